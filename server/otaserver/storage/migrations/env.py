"""Alembic environment: migrations run on the connection the server hands over at start."""

from __future__ import annotations

from alembic import context

from otaserver.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("otakit applies its migrations itself at start; run `otakit migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
