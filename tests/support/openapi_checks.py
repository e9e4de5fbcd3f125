"""A schemathesis check for otakit's conformance run, loaded by `st` through SCHEMATHESIS_HOOKS.

`positive_data_acceptance` expects every schema-valid request to be accepted. Some refusals
depend on what is stored, or on two parameters together, and no JSON Schema can state them:
a duplicate name, an id that names nothing, a package in use, a checksum of the wrong length
for an algorithm given in another parameter. ThingsBoard answers these 400, and so does otakit.
This check is positive_data_acceptance, except for a 400 whose message is one of those rules;
any other refusal of a schema-valid request still fails the run.
"""

from __future__ import annotations

import json
import re

import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Each: the rule, then the messages (regular expressions, matched at the start) that state it.
RULES_OF_STATE = {
    "names, emails, tokens and package versions are unique": (
        r".* with such (name|title and version) already exists!$",
        r"User with email '.*' already present in database!$",
        r"Device credentials are already assigned to another device!$",
    ),
    "an id must name an entity the user can see": (
        r".* is referencing to non-existent (device profile|tenant|customer)!$",
        r"Can't assign (non-existent|\w+ with type:|\w+ with empty data|\w+ with different)",
    ),
    "what is in use, or the default, stays": (
        r"The (otaPackage|device profile) referenced by .* cannot be deleted!$",
        r"Deletion of Default Device Profile is prohibited!$",
        r"A user cannot delete their own account!$",
    ),
    "what is set once stays": (
        r"Updating otaPackage \w+ is prohibited!$",
        r"A URL package can't have data!$",
        r"A user's authority, tenant and customer cannot change!$",
        r"User is already activated!$",
    ),
    "a request must fit the entity's state": (
        r"Device isn't assigned to any customer!$",
        r"OtaPackage (has no data to download|is a URL package and has no data)!$",
        r"Requested .* but the assigned (firmware|software) is ",
    ),
    "a system administrator creates tenant administrators only": (
        r"A system administrator creates tenant administrators of a tenant$",
    ),
    "uploaded data must match its checksum": (r"Wrong otaPackage file!",),
    # Parameters that depend on each other: OpenAPI describes each parameter on its own.
    "the checksum's length is the algorithm's, given in another parameter": (
        r"checksum '.*' is not a \w+ checksum",
    ),
    "a timeline's startTs comes before its endTs (now when left out)": (
        r"Parameter 'startTs' must be before 'endTs'$",
    ),
    "aggregation intervals are counted from startTs, endTs and interval together": (
        r"Number of intervals is too high",
    ),
    "multipart fields read before the file must come before it": (
        r"Send [\w, ]+ before the file part or as query parameters$",
    ),
}
_STATE_MESSAGE = re.compile(
    "|".join(f"(?:{pattern})" for patterns in RULES_OF_STATE.values() for pattern in patterns),
    re.DOTALL,
)


def refused_by_rule_of_state(response: Response) -> bool:
    if response.status_code != 400:
        return False
    try:
        message = json.loads(response.content).get("message", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(message, str) and _STATE_MESSAGE.match(message) is not None


@schemathesis.check
def positive_data_acceptance_but_rules_of_state(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """positive_data_acceptance, forgiving only the 400s of RULES_OF_STATE."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if refused_by_rule_of_state(response):
            return None
        raise
