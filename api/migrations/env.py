"""Alembic environment: runs on the connection handed over by ``api.db.migrate``."""

from __future__ import annotations

from alembic import context

from api.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from api.db import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///greenwave.db")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run_migrations_online()
