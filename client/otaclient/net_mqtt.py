"""MQTT transport over a client with umqtt.simple's API.

On MicroPython that client is `umqtt.simple.MQTTClient` (installed with mip); the tests run it on
CPython over paho-mqtt (tests/client/umqtt_paho.py). Topics and payloads are bytes.
"""

import json

from otaclient import protocol as p


class TransportError(Exception):
    pass


class MqttTransport:
    def __init__(self, client, kind=p.FIRMWARE):
        self.client = client
        self.kind = kind
        self.agent = None
        self.request_id = 0
        self._attribute_request = 0
        self._expected = None
        self.last_error = None

    def connect(self, agent):
        """Connects, subscribes, and starts a new request id (bindings die with connections)."""
        self.agent = agent
        self.client.set_callback(self._message)
        self.client.connect()
        for topic in (
            p.ATTRIBUTES_TOPIC,
            p.ATTRIBUTES_RESPONSE_FILTER,
            p.chunk_response_filter(self.kind),
            p.OTA_ERROR_TOPIC,
        ):
            self.client.subscribe(topic.encode(), 1)
        self.request_id += 1

    def poll(self):
        """Handles what has arrived; an OSError means the connection is gone."""
        self.client.check_msg()

    def close(self):
        try:
            self.client.disconnect()
        except OSError:
            pass

    def send_telemetry(self, values):
        self.client.publish(p.TELEMETRY_TOPIC.encode(), json.dumps(values).encode(), False, 1)

    def request_attributes(self, keys):
        self._attribute_request += 1
        topic = p.ATTRIBUTES_REQUEST_TOPIC + str(self._attribute_request)
        body = json.dumps({"sharedKeys": ",".join(keys)})
        self.client.publish(topic.encode(), body.encode(), False, 1)

    def request_chunk(self, index, size):
        self._expected = index
        topic = p.chunk_request_topic(self.kind, self.request_id, index)
        self.client.publish(topic.encode(), str(size).encode() if size else b"", False, 1)
        return None  # the chunk arrives as a message

    def _message(self, topic, message):
        what, number = p.incoming(topic.decode(), self.kind, self.request_id)
        if what == p.ATTRIBUTES_RESPONSE:
            self.agent.attributes(json.loads(message).get("shared", {}))
        elif what == p.PUSH:
            self.agent.attributes(json.loads(message))
        elif what == p.CHUNK:
            if number == self._expected:  # a late duplicate of an earlier answer is dropped
                self._expected = None
                self.agent.chunk(message)
        elif what == p.OTA_ERROR:
            self.last_error = message.decode()
