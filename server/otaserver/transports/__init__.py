"""Device transports: HTTP, MQTT and CoAP device APIs."""
