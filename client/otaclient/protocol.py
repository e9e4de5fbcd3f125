"""ThingsBoard's OTA wire names in one place: topics, paths, keys and states (spec §2, §6)."""

# Update states, as the device reports them in fw_state / sw_state.
IDLE = "IDLE"
DOWNLOADING = "DOWNLOADING"
DOWNLOADED = "DOWNLOADED"
VERIFIED = "VERIFIED"
UPDATING = "UPDATING"
UPDATED = "UPDATED"
FAILED = "FAILED"

FIRMWARE = "fw"
SOFTWARE = "sw"

# MQTT topics.
TELEMETRY_TOPIC = "v1/devices/me/telemetry"
ATTRIBUTES_TOPIC = "v1/devices/me/attributes"
ATTRIBUTES_REQUEST_TOPIC = "v1/devices/me/attributes/request/"
ATTRIBUTES_RESPONSE_TOPIC = "v1/devices/me/attributes/response/"
ATTRIBUTES_RESPONSE_FILTER = "v1/devices/me/attributes/response/+"
OTA_ERROR_TOPIC = "v2/fw/error"


def chunk_request_topic(kind, request_id, index):
    return "v2/%s/request/%d/chunk/%d" % (kind, request_id, index)


def chunk_response_prefix(kind, request_id):
    return "v2/%s/response/%d/chunk/" % (kind, request_id)


def chunk_response_filter(kind):
    return "v2/%s/response/+/chunk/+" % kind


# What an incoming MQTT message is, by its topic (see incoming()).
PUSH = "push"
ATTRIBUTES_RESPONSE = "attributes response"
CHUNK = "chunk"
OTA_ERROR = "ota error"


def incoming(topic, kind, request_id):
    """(what, number) of a message on `topic`: (PUSH, None), (ATTRIBUTES_RESPONSE, its request
    number), (CHUNK, its index) for an answer to chunk request `request_id`, (OTA_ERROR, None);
    (None, None) for anything else, such as an earlier connection's answers."""
    if topic == ATTRIBUTES_TOPIC:
        return PUSH, None
    if topic.startswith(ATTRIBUTES_RESPONSE_TOPIC):
        return ATTRIBUTES_RESPONSE, int(topic[len(ATTRIBUTES_RESPONSE_TOPIC) :])
    prefix = chunk_response_prefix(kind, request_id)
    if topic.startswith(prefix):
        return CHUNK, int(topic[len(prefix) :])
    if topic == OTA_ERROR_TOPIC:
        return OTA_ERROR, None
    return None, None


# Shared attributes announcing a package, and what the device reports.
def key(kind, suffix):
    return kind + "_" + suffix


def target_keys(kind):
    return [
        key(kind, s) for s in ("title", "version", "size", "checksum", "checksum_algorithm", "url")
    ]


def state_key(kind):
    return key(kind, "state")


def error_key(kind):
    return key(kind, "error")


def current_title_key(kind):
    return "current_%s_title" % kind


def current_version_key(kind):
    return "current_%s_version" % kind


# HTTP paths (under the server's base URL) and CoAP paths.
def http_path(token, path):
    return "/api/v1/%s/%s" % (token, path)


def download_name(kind):
    return "firmware" if kind == FIRMWARE else "software"


def coap_download_path(kind, token):
    return "/%s/%s" % (kind, token)
