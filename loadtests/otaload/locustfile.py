"""otakit's load tests: whole OTA updates by thousands of devices, with an operator on the REST
API. Pick the scenario by tag and the transports by user class, e.g.

    otakit loadtest --headless --start-local -u 201 -r 100 -t 2m \
        --tags campaign --stop-when-done MqttDevice Mqtt5Device HttpDevice CoapDevice Operator

(`otakit loadtest` is `locust -f` this file.)
loadtests/README.md has the options, the metrics and distributed runs.
"""

from otaload.hooks import install
from otaload.operator import Operator
from otaload.shapes import Waves
from otaload.users import CoapDevice, HttpDevice, Mqtt5Device, MqttDevice

install()

__all__ = ["CoapDevice", "HttpDevice", "Mqtt5Device", "MqttDevice", "Operator", "Waves"]
