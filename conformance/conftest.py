"""`pytest conformance/ --server-url ...`: the suite's plugin, for a plain pytest run."""

from otaconformance.plugin import *  # noqa: F403  (its hooks, options and fixtures)
