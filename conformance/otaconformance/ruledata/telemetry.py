"""Spec §2.3 and §6.2 to §6.4: the device posts telemetry."""

from otaconformance.rules import KIND_TYPES, MQTT, TRANSPORTS, Rule, Transport

RULES = (
    Rule(
        "telemetry.http-post",
        "§6.3",
        "POST /api/v1/{token}/telemetry (JSON) answers 200 with an empty body",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "telemetry.coap-post",
        "§6.4",
        "POST coap://host/api/v1/{token}/telemetry answers 2.01 Created (2.03 Valid before)",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "telemetry.mqtt-publish",
        "§6.2",
        "telemetry published on v1/devices/me/telemetry is stored",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "telemetry.shapes",
        "§6.2",
        "a flat object, {ts, values} and an array of those are all accepted, {ts, values} at "
        "its ts",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "telemetry.current-kept",
        "§2.3",
        "current_<prefix>_title and current_<prefix>_version are kept as reported with UPDATED",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "telemetry.error-kept",
        "§2.3",
        "<prefix>_error is kept as reported with FAILED",
        KIND_TYPES,
        TRANSPORTS,
    ),
)
