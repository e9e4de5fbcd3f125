"""Spec §6.2 to §6.4: chunked and whole-file downloads on every transport."""

from otaconformance.rules import KIND_TYPES, MQTT, TRANSPORTS, Rule, Transport

RULES = (
    Rule(
        "chunk.slice",
        "§6.2",
        "chunk n of size s is bytes [s*n, s*(n+1)) of the file, shorter for the last; n counts "
        "chunks, not bytes",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "chunk.past-end-empty",
        "§6.2",
        "a chunk past the end is empty: HTTP 200 with no body, MQTT a zero-length payload",
        KIND_TYPES,
        (Transport.HTTP, *MQTT),
    ),
    Rule(
        "chunk.coap-past-end-empty",
        "§6.4",
        "otakit answers a CoAP chunk past the end with an empty 2.05 (ThingsBoard: no response)",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "chunk.index-default",
        "§6.3",
        "size and chunk are ints defaulting to 0: a size without a chunk index is chunk 0",
        KIND_TYPES,
        (Transport.HTTP, Transport.COAP),
    ),
    Rule(
        "chunk.http-query-decoding",
        "§6.3",
        "the HTTP query is form-decoded before title and version are compared, as Spring reads "
        "it: '+' is a space and %2B a plus",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "chunk.http-range",
        "§6.3 (otakit extension)",
        "a whole-file HTTP download (no size, or size 0) honours a Range header: 206 with that "
        "slice and its Content-Range, so an interrupted download resumes",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "chunk.mqtt-huge-index",
        "§6.2 (otakit extension)",
        "an MQTT chunk index with more digits than any file has chunks is past the end: an "
        "empty reply (ThingsBoard's int parse fails)",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.whole-file",
        "§6.2",
        "no size, size 0 (or, over MQTT, an empty payload) gets the whole file in one answer",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "chunk.mqtt-size-reused",
        "§6.2",
        "an empty payload reuses the size this request id sent before on the connection",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.mqtt-request-pinned",
        "§6.2",
        "a request id stays bound to the package of its first request; a new one gets the "
        "current package",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.mqtt-largest",
        "§6.2",
        "a chunk of the largest size the target serves comes whole",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.mqtt-unsubscribed-reply",
        "§6.2",
        "the reply is published even when the client has not subscribed to it",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.mqtt-subscription-filters",
        "§6.2",
        "v2/<prefix>/response/+/chunk/+ and v2/<prefix>/error are granted (at most QoS 1); "
        "v2/<prefix>/response/+ is refused, yet the replies come",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.mqtt-reply-qos",
        "§6.2",
        "the reply is published at the granted QoS of the matching subscription, QoS 1 if none",
        KIND_TYPES,
        MQTT,
    ),
    Rule(
        "chunk.http-headers",
        "§6.3",
        "a download has Content-Type, Content-Length, Content-Disposition naming the file, and "
        "x-filename",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "chunk.coap-query-optional",
        "§6.4",
        "title, version, size and chunk are all optional over CoAP; title and version, when "
        "given and right, are accepted",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "chunk.coap-block2",
        "§6.4",
        "a whole-file request with Block2 gets that block: the requested NUM and SZX, and the "
        "payload the block's slice",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "chunk.coap-block2-more",
        "§6.4",
        "the M flag says whether blocks follow: set on the first of several, clear on the last "
        "(ThingsBoard's test is buggy)",
        KIND_TYPES,
        (Transport.COAP,),
    ),
    Rule(
        "chunk.coap-api-path",
        "§6.4",
        "the documented coap://host/api/v1/{token}/firmware (and /software) serves the file too",
        KIND_TYPES,
        (Transport.COAP,),
    ),
)
