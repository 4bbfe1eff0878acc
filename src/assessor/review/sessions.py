"""Login sessions shared by every process of the app, kept in the review database.

Gradio keeps its logins in ``app.tokens``, a dict of token → username that lives and dies with
one process: behind a reverse proxy with two replicas, a jury member logged in on one would be a
stranger to the other, and a restart would log everybody out. :class:`SharedSessions` is a
mapping with the same use (``get``, ``[token] = username``, ``del``, ``keys``) over the
``sessions`` table (migration 0003): the app puts it in place of Gradio's dict after launch.

Only the SHA-256 of a token is stored. A session ends on logout, on the removal of its account,
or ``max_idle`` after it was last seen; what a process read is trusted for ``CACHE_S`` seconds, so
a logout on one replica reaches the others within that time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from assessor.review.schema import sessions

CACHE_S = 5.0
"""How long one process trusts what it read of a session without asking the database again."""

SEEN_EVERY_S = 60.0
"""How often a session's « last seen » time is written (not on every request)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SharedSessions(MutableMapping[str, str]):
    """Token → username, stored (hashed) in the review database; the mapping Gradio's login uses."""

    def __init__(self, engine: sa.Engine, max_idle: timedelta = timedelta(hours=12)) -> None:
        self.engine = engine
        self.max_idle = max_idle
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, token: str) -> str:
        username = self.get(token)
        if username is None:
            raise KeyError(token)
        return username

    def get(self, token: object, default: str | None = None) -> str | None:  # type: ignore[override]
        if not isinstance(token, str) or not token:
            return default
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and now - cached[1] < CACHE_S:
            return cached[0] if cached[0] is not None else default
        username = self._read(token)
        with self._lock:
            self._cache[token] = (username, now)
        return username if username is not None else default

    def _writing(self) -> sa.Connection:
        """A connection whose transactions take the write lock at once (SQLite's BEGIN IMMEDIATE)."""
        return self.engine.connect().execution_options(assessor_write=True)

    def _read(self, token: str) -> str | None:
        moment = datetime.now(UTC)
        key = _digest(token)
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(sessions.c.username, sessions.c.seen_at).where(sessions.c.token_hash == key)
            ).first()
        if row is None:
            return None
        idle = moment - row.seen_at
        if idle > self.max_idle or idle.total_seconds() > SEEN_EVERY_S:
            with self._writing() as connection, connection.begin():
                if idle > self.max_idle:
                    connection.execute(sa.delete(sessions).where(sessions.c.token_hash == key))
                    return None
                connection.execute(sa.update(sessions).where(sessions.c.token_hash == key).values(seen_at=moment))
        return str(row.username)

    def __setitem__(self, token: str, username: str) -> None:
        moment = datetime.now(UTC)
        with self._writing() as connection, connection.begin():
            connection.execute(
                sa.insert(sessions).values(
                    token_hash=_digest(token), username=username, opened_at=moment, seen_at=moment
                )
            )
            # Sessions left idle too long are removed as new ones open: the table stays small.
            connection.execute(sa.delete(sessions).where(sessions.c.seen_at < moment - self.max_idle))
        with self._lock:
            self._cache[token] = (username, time.monotonic())

    def __delitem__(self, token: str) -> None:
        with self._writing() as connection, connection.begin():
            connection.execute(sa.delete(sessions).where(sessions.c.token_hash == _digest(token)))
        with self._lock:
            self._cache.pop(token, None)

    def __contains__(self, token: object) -> bool:
        return self.get(token) is not None

    def __iter__(self) -> Iterator[str]:
        # Only the tokens this process handed out or read are known in clear (the table keeps digests).
        with self._lock:
            known = [token for token, (username, _) in self._cache.items() if username is not None]
        return iter([token for token in known if self.get(token) is not None])

    def __len__(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one())

    def end_sessions_of(self, username: str) -> int:
        """Log a user out everywhere (account removed or password changed); how many sessions ended."""
        with self._writing() as connection, connection.begin():
            ended = connection.execute(sa.delete(sessions).where(sessions.c.username == username)).rowcount
        with self._lock:
            self._cache = {t: v for t, v in self._cache.items() if v[0] != username}
        return int(ended or 0)
