"""Login sessions in the review database: what two app processes (or one restarted) share."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from assessor.review import sessions as module
from assessor.review.schema import sessions
from assessor.review.store import ReviewStore


def test_a_login_made_by_one_process_is_known_to_another_and_ends_everywhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'assessor.db'}"
    one, two = ReviewStore(url), ReviewStore(url)  # two replicas of the app on one database
    try:
        first, second = one.sessions(), two.sessions()
        first["jeton-secret-1"] = "jmartin"
        assert second.get("jeton-secret-1") == "jmartin" and "jeton-secret-1" in second
        assert second.get("jeton-inconnu") is None and "jeton-inconnu" not in second
        with one._engine.connect() as connection:  # only a digest is stored, never the token
            stored = connection.execute(sa.select(sessions.c.token_hash, sessions.c.username)).all()
        assert [row.username for row in stored] == ["jmartin"] and "jeton-secret-1" not in stored[0].token_hash
        del second["jeton-secret-1"]  # logged out on the other replica
        first._cache.clear()  # past CACHE_S
        assert first.get("jeton-secret-1") is None
        first["a"] = first["b"] = "pdurand"
        assert second.end_sessions_of("pdurand") == 2 and len(first) == 0
        assert one.session_cookie_id() == two.session_cookie_id()  # the same cookie name on every replica
    finally:
        one.dispose()
        two.dispose()


def test_an_idle_session_ends(tmp_path: Path) -> None:
    store = ReviewStore(f"sqlite:///{tmp_path / 'assessor.db'}")
    try:
        store.sessions()["jeton"] = "jmartin"
        strict = module.SharedSessions(store._engine, max_idle=timedelta(0))  # any pause is too long
        assert store.sessions().get("jeton") == "jmartin"
        assert strict.get("jeton") is None
        with store._engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 0
    finally:
        store.dispose()
