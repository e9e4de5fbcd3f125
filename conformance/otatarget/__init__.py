"""Reaching an OTA server from outside, by URL: shared by the conformance suite and the simulator.

`local` starts otakit in a subprocess for a run; `rest` logs in and calls the REST API. Neither
imports the server: an import contract keeps it that way.
"""
