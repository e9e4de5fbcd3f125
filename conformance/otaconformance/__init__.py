"""A conformance suite for ThingsBoard-compatible OTA servers: point it at a URL and run."""
