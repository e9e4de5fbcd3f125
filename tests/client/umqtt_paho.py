"""umqtt.simple's MQTTClient API on CPython, over paho-mqtt, for the tests.

The device code (net_mqtt) is written against umqtt's API so one adapter serves both pythons;
this class gives CPython that API: bytes topics and payloads, a callback, check_msg/wait_msg, so
test_umqtt_adapter.py can run the MicroPython adapter against a real server.
"""

import queue

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


class MQTTClient:
    def __init__(
        self,
        client_id,
        server,
        port=0,
        user=None,
        password=None,
        keepalive=0,
        ssl=None,
        ssl_params=None,
    ):
        self.server, self.port, self.keepalive = server, port or 1883, keepalive or 60
        self._callback = None
        self._inbox = queue.Queue()
        self._connected = queue.Queue()
        self._paho = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id.decode() if isinstance(client_id, bytes) else client_id,
            protocol=paho.MQTTv311,
        )
        if user is not None:
            self._paho.username_pw_set(user.decode() if isinstance(user, bytes) else user, password)
        self._paho.on_message = lambda _c, _u, m: self._inbox.put((m.topic.encode(), m.payload))
        self._paho.on_connect = lambda _c, _u, _f, code, _p: self._connected.put(code)
        self._paho.on_disconnect = lambda *_a: self._inbox.put(None)

    def set_callback(self, callback):
        self._callback = callback

    def connect(self, clean_session=True, timeout=None):
        # What the last connection left (its "connection lost" among it) is not for this one.
        for pending in (self._inbox, self._connected):
            while not pending.empty():
                pending.get_nowait()
        try:
            self._paho.connect(self.server, self.port, self.keepalive)
        except (ConnectionError, OSError) as error:
            raise OSError(f"connect failed: {error}") from error
        self._paho.loop_start()
        code = self._connected.get(timeout=30)
        if code != 0:
            self._paho.loop_stop()
            raise OSError(f"connection refused: {code}")
        return False

    def disconnect(self):
        self._paho.disconnect()
        self._paho.loop_stop()

    def ping(self):
        pass  # paho keeps the connection alive by itself

    def subscribe(self, topic, qos=0):
        self._paho.subscribe(topic.decode(), qos)

    def publish(self, topic, msg, retain=False, qos=0):
        info = self._paho.publish(topic.decode(), msg, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise OSError(f"publish failed: {info.rc}")
        if qos:
            # umqtt's publish returns once the PUBACK is in; so does this one.
            try:
                info.wait_for_publish(30)
            except RuntimeError as error:
                raise OSError(f"publish failed: {error}") from error
            if not info.is_published():
                raise OSError("no PUBACK within 30 s")

    def _deliver(self, item):
        if item is None:
            raise OSError("connection lost")
        if self._callback is not None:
            self._callback(*item)

    def wait_msg(self):
        self._deliver(self._inbox.get())

    def check_msg(self, timeout=0.05):
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        self._deliver(item)
        return None
