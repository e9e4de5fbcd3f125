"""The admin REST API: ThingsBoard's paths and JSON shapes over Starlette."""
