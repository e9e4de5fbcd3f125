"""otamqtt: MQTT 3.1.1 and 5 packets and their codec, shared by the server, the simulator and
the load tests."""
