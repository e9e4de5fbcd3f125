"""MQTT 3.1.1 and 5.0 wire codec: packets, MQTT 5 properties, encode and an incremental decoder."""
