"""Spec §1 and §6.2 to §6.4: the names of keys, topics and paths, per package type."""

from otaconformance.rules import KIND_TYPES, MQTT, TRANSPORTS, Rule, Transport

RULES = (
    Rule(
        "naming.attribute-keys",
        "§1",
        "shared attribute keys are <prefix>_<suffix>: fw_title, ... for firmware, sw_title, ... "
        "for software, on every transport",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "naming.device-telemetry-keys",
        "§1",
        "the device reports <prefix>_state, <prefix>_error and current_<prefix>_title/version",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "naming.mqtt-chunk-topics",
        "§6.2",
        "chunks are asked on v2/<prefix>/request/{requestId}/chunk/{index} and answered on "
        "v2/<prefix>/response/{requestId}/chunk/{index}",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "naming.http-download-path",
        "§6.3",
        "HTTP downloads are /api/v1/{token}/firmware and /api/v1/{token}/software",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "naming.coap-download-path",
        "§6.4",
        "CoAP downloads are /fw/{token} and /sw/{token}",
        KIND_TYPES,
        (Transport.COAP,),
    ),
)
