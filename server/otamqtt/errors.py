"""What an MQTT client's calls raise, and the names of the codes they carry: shared by the
simulator's asyncio client (otasim.mqtt_client) and the load tests' gevent one (otaload.gmqtt)."""

from __future__ import annotations

import struct

from otamqtt.packets import ConnectReturnCode, ProtocolVersion, ReasonCode

# SO_LINGER of zero: closing sends an RST, so the peer sees its connection reset, as when a link
# breaks, not a clean end.
LINGER_RESET = struct.pack("ii", 1, 0)


class MqttError(Exception):
    """An MQTT operation failed; `code` is the broker's return or reason code when it sent one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConnectRefused(MqttError):
    """CONNACK refused the connection: `code` is its 3.1.1 return code or MQTT 5 reason code."""


class SubscribeRefused(MqttError):
    """SUBACK refused a topic filter: `code` is the first refusal, `codes` all of SUBACK's."""

    def __init__(self, message: str, code: int, codes: tuple[int, ...]) -> None:
        super().__init__(message, code)
        self.codes = codes


class PublishRefused(MqttError):
    """An MQTT 5 PUBACK with a reason code of 0x80 or more."""


class MqttTimeout(MqttError):
    """No answer or no progress in time (connect, CONNACK, a write, SUBACK, PUBACK, PINGRESP)."""


class ConnectionClosed(MqttError):
    """The connection could not be made, or ended; `code` is the server's MQTT 5 DISCONNECT
    reason code when it sent one."""


def code_name(code: int, version: ProtocolVersion, connack: bool = False) -> str:
    """`code` with its spec name, for messages: 3.1.1 names only CONNACK's return codes."""
    names: type[ConnectReturnCode] | type[ReasonCode] | None = ReasonCode
    if version is not ProtocolVersion.V5:
        names = ConnectReturnCode if connack else None
    try:
        return f"{code:#04x} {names(code).name}" if names else f"{code:#04x}"
    except ValueError:
        return f"{code:#04x}"
