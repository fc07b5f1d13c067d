"""Alembic environment: runs on the connection the Store hands over (see store/db.py)."""

from __future__ import annotations

from alembic import context

from anima.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `anima migrate` (it opens the configured store)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
