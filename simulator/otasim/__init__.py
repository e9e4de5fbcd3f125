"""otasim: a fleet of virtual devices on otaclient's update core, for any ThingsBoard-compatible
server."""
