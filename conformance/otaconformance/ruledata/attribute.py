"""Spec §2.1 and §6.2 to §6.4: the shared attributes a device is pushed and can request."""

from otaconformance.rules import KIND_TYPES, MQTT, TRANSPORTS, Rule, Transport

RULES = (
    Rule(
        "attribute.push-flat",
        "§6.2",
        "an update is pushed (MQTT subscription, CoAP observe, HTTP long poll) as one flat JSON "
        "object of the written keys and nothing else",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.push-types",
        "§2.1",
        "a binary package announces title, version, size, checksum and algorithm; fw_size is a "
        "JSON number, fw_checksum_algorithm the enum name (SHA256)",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.deleted-on-unassign",
        "§2.1",
        "unassignment deletes all nine <prefix>_<suffix> shared keys (<prefix>_ts and "
        "<prefix>_state too) and pushes {deleted: [...]} naming each",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.deleted-stale-keys",
        "§2.1",
        "keys the new package lacks (<prefix>_url, <prefix>_tag) are deleted, and the deletion "
        "is pushed",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.url-package-keys",
        "§2.1",
        "a URL package announces its url (and tag when tagged), no size or checksum when unset",
        KIND_TYPES,
    ),
    Rule(
        "attribute.request-answer",
        "§6.2",
        "an attribute request with clientKeys and sharedKeys gets {client: {...}, shared: {...}}",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.request-section-left-out",
        "§6.2",
        "a section of the answer with nothing in it is left out",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "attribute.mqtt-request-topics",
        "§6.2",
        "a request on v1/devices/me/attributes/request/{n} with comma-separated keys is answered "
        "on v1/devices/me/attributes/response/{n}, and a subscription to "
        "v1/devices/me/attributes/response/+ is granted",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "attribute.http-repeated-keys",
        "§6.3",
        "repeated sharedKeys= parameters are joined as one comma-separated list",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "attribute.http-long-poll-default",
        "§6.3",
        "attributes/updates with timeout=0 or no timeout waits the transport's default "
        "(otakit: 60 s), not answering at once",
        transports=(Transport.HTTP,),
    ),
    Rule(
        "attribute.coap-observe",
        "§6.4",
        "a GET with Observe=0 on /api/v1/{token}/attributes subscribes (2.05, then "
        "notifications); Observe=1 unsubscribes",
        KIND_TYPES,
        (Transport.COAP,),
    ),
)
