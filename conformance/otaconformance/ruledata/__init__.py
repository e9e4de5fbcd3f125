"""The rules, one module per area, each with `RULES`: see `otaconformance.rules`."""
