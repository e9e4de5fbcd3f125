"""otaload: Locust users and scenarios of whole OTA updates (MQTT, HTTP, CoAP)."""
