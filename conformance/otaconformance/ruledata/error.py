"""Spec §6.2 to §6.4: how a device's requests fail, on every transport."""

from otaconformance.rules import KIND_TYPES, MQTT, TRANSPORTS, Rule, Transport

HTTP_COAP = (Transport.HTTP, Transport.COAP)

RULES = (
    Rule(
        "error.bad-token",
        "§6.3",
        "an unknown token is refused: HTTP 401 (download and telemetry), a refused MQTT CONNACK, "
        "CoAP 4.01",
        transports=TRANSPORTS,
    ),
    Rule(
        "error.nothing-assigned",
        "§6.3",
        "a download with nothing assigned: HTTP 404, CoAP 4.04, MQTT NOT_FOUND",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "error.url-package",
        "§6.3",
        "a URL package is not served, whole or by chunks: HTTP 404, CoAP 4.04, MQTT FAILURE",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "error.title-version-mismatch",
        "§6.3",
        "a title or version that is not the assigned one (compared case-sensitively), for the "
        "whole file or a chunk: HTTP 400, CoAP 4.00",
        KIND_TYPES,
        HTTP_COAP,
    ),
    Rule(
        "error.http-malformed",
        "§6.3",
        "an HTTP download without title or version, or with a malformed size, gets 400",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "error.mqtt-payload-too-large",
        "§6.2",
        "a chunk larger than the maximum gets PAYLOAD_TOO_LARGE, however many digits its size has",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "error.mqtt-malformed-size",
        "§6.2",
        "a chunk size that is not decimal text (letters, bytes that are not ASCII) is refused "
        "with an error, not read as 0 or as a part of it",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "error.coap-malformed",
        "§6.4 (otakit extension)",
        "a CoAP size or chunk that is not decimal digits gets 4.00 (ThingsBoard's parse fails "
        "with 5.00 or no answer)",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "error.nul-refused",
        "§6 (otakit extension)",
        "a NUL is never served or looked up: anywhere in an HTTP device request's URL it gets "
        "400; over CoAP, in attribute keys 4.00, in the token 4.01 (no device has it)",
        transports=HTTP_COAP,
    ),
    Rule(
        "error.mqtt-error-topic",
        "§6.2",
        "an error is a text on v2/fw/error (software too), then the server disconnects",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "error.coap-get-only",
        "§6.4",
        "only GET downloads: another method gets 4.05",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "error.coap-two-segments",
        "§6.4",
        "a download path of other than two segments (/fw/{token}/x) is refused: 4.01 on "
        "ThingsBoard (otakit: 4.04)",
        KIND_TYPES,
        (Transport.COAP,),
    ),
)
