"""The rules, one module per area, each with `RULES`: see `otaconformance.rules`.

What the wire contract and the user guide say that is not a rule a server can be checked for,
and why, is `NOT_RULES`; the rules table lists it too, so that its absence is a decision.
"""

NOT_RULES = (
    ("§6.1", "the device's own flow (read, compare, download, verify, report): what a client does"),
    ("§6.5", "LwM2M: a summary of ThingsBoard's mapping; otakit has no LwM2M transport"),
    ("§9", "ThingsBoard's example scripts and SDKs: clients, run against otakit by its own tests"),
    ("§10", "the checklist sums up §2 to §6, whose rules are here"),
    ("§11", "open questions: where the suite accepts both answers, the rule text says so"),
    (
        "guide: Max size setting",
        "2 GB per package: an upload that large is not a step of a suite run; otakit's own tests "
        "check its limit (OTAKIT_MAX_PACKAGE_SIZE)",
    ),
    ("guide: Update process", "the per-transport device guides: the device's side of §6"),
)
