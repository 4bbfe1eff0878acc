"""Alembic environment: migrate the connection ``ReviewStore`` hands over, inside its transaction.

``ReviewStore`` opens the transaction (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
PostgreSQL) before calling Alembic, so two processes starting at once cannot both migrate.
A developer may also point ``sqlalchemy.url`` at a database to run Alembic by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from assessor.review.schema import metadata


def _migrate(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    try:
        with engine.begin() as own_connection:
            _migrate(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Les migrations d'Assessor s'exécutent sur une base réelle, pas en mode --sql.")
run()
