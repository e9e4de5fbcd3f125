"""A connection's subscriptions: bounded in number, and looked up for a topic without a scan.

Every PUBLISH to a device asks which of its filters match the topic. Concrete topics are looked
up in a dict; only filters with wildcards are matched one by one, and ThingsBoard allows just a
handful of those (topics.ALLOWED_FILTERS), so the cost of a PUBLISH does not grow with the
number of subscriptions.
"""

from __future__ import annotations

from . import topics


class Subscriptions:
    __slots__ = ("_exact", "_limit", "_wildcards")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._exact: dict[str, int] = {}
        self._wildcards: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._exact) + len(self._wildcards)

    def _table(self, topic_filter: str) -> dict[str, int]:
        wildcard = "+" in topic_filter or "#" in topic_filter
        return self._wildcards if wildcard else self._exact

    def add(self, topic_filter: str, qos: int) -> bool:
        """Holds `topic_filter` at `qos`; False when that would be one filter past the limit.

        A filter already held is replaced (MQTT's rule), so it never counts twice.
        """
        table = self._table(topic_filter)
        if topic_filter not in table and len(self) >= self._limit:
            return False
        table[topic_filter] = qos
        return True

    def remove(self, topic_filter: str) -> bool:
        """Forgets `topic_filter`; False when it was not held."""
        return self._table(topic_filter).pop(topic_filter, None) is not None

    def qos_for(self, topic: str) -> int | None:
        """The highest QoS granted to a filter matching `topic`; None when none does."""
        best = self._exact.get(topic)
        for topic_filter, qos in self._wildcards.items():
            if (best is None or qos > best) and topics.matches(topic_filter, topic):
                best = qos
        return best
