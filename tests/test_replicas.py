"""Two processes of the app, as behind a reverse proxy, on one PostgreSQL and one Chroma server.

Both replicas share the data folder (the dossiers' files, the users file, the audit key), the
review database and the index. Two jury members, each on their own replica, see each other's
decisions, a stale save is refused instead of overwriting the other's, and a login made on one
replica holds on the other and across a restart (sessions live in the review database).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appserver import add_user, browser, chromium_missing, login, running_app
from servers import free_port
from test_app_browser import SAMPLE, choose, start_review, wait_message
from test_chroma_server import chroma_url  # noqa: F401 - the module's Chroma server fixture
from test_review_postgres import Server, server  # noqa: F401 - the module's PostgreSQL fixture

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]

JURY_A, PASSWORD_A, NAME_A = "jmartin", "mot-de-passe-jury-1", "Jeanne Martin"
JURY_B, PASSWORD_B, NAME_B = "pdurand", "mot-de-passe-jury-2", "Paul Durand"
AUDIT_KEY = "clé-d-audit-partagée-par-les-deux-répliques-0123456789"


@pytest.fixture(scope="module")
def shared(server: Server, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:  # noqa: F811
    folder = tmp_path_factory.mktemp("shared-data")
    add_user(folder, JURY_A, PASSWORD_A, "jury", NAME_A)
    add_user(folder, JURY_B, PASSWORD_B, "jury", NAME_B)
    env = {
        "ASSESSOR_DATABASE_URL": server.new_database(),
        "ASSESSOR_INDEX__URL": chroma_url,
        "ASSESSOR_AUDIT_KEY": AUDIT_KEY,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    yield folder, env


def test_two_replicas_share_reviews_decisions_and_logins(shared: tuple[Path, dict], tmp_path: Path) -> None:
    folder, env = shared
    port_one, port_two = free_port(), free_port()
    with (
        running_app(folder, port_one, env=env, log=tmp_path / "one.log") as one,
        running_app(folder, port_two, env=env, log=tmp_path / "two.log") as two,
        browser() as chromium,
    ):
        # Jury A on replica one runs a pre-reading and names jury B as a member of the jury.
        a = chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR").new_page()
        login(a, one, JURY_A, PASSWORD_A)
        a.get_by_role("tab", name="Nouvelle pré-lecture").click()
        a.locator("#as-assigned textarea, #as-assigned input").first.fill(JURY_B)
        start_review(a, [SAMPLE], "Candidate à deux jurys")

        # Jury B on replica two finds it, and decides its first criterion.
        b = chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR").new_page()
        login(b, two, JURY_B, PASSWORD_B)
        b.locator("#as-sessions [role=gridcell]", has_text="Candidate à deux jurys").first.click()
        b.wait_for_selector("#as-grid .as-row", timeout=30000)
        # Jury A has the same criterion open, from before B's decision.
        a.locator("#as-grid .as-row").first.click()
        a.wait_for_selector("#as-detail .crit", timeout=10000)
        for page, reason in ((b, "Décision de Paul, prise sur la réplique deux."), (a, "Décision de Jeanne.")):
            page.locator("#as-grid .as-row").first.click()
            page.wait_for_selector("#as-detail .crit", timeout=10000)
            page.locator("#as-action label", has_text="Retenir une autre décision").click()
            choose(page, "#as-outcome", "Non acquis")
            page.locator("#as-reason textarea, #as-reason input").first.fill(reason)
        b.locator("#as-save").click()
        wait_message(b, "Décision enregistrée")
        # A's save, from a state older than B's decision, is refused, and A is shown B's decision.
        a.locator("#as-save").click()
        wait_message(a, "état actuel")
        detail = a.locator("#as-detail").inner_text()
        assert "Décision de Paul, prise sur la réplique deux." in detail and f"{NAME_B} ({JURY_B})" in detail

        # A's login holds on replica two (same cookie, sessions in the review database)…
        a.goto(two + "/")
        a.wait_for_selector("#as-who a", timeout=30000)
        assert NAME_A in a.locator("#as-who").inner_text()
        a.locator("#as-sessions [role=gridcell]", has_text="Candidate à deux jurys").first.click()
        a.wait_for_selector("#as-grid .as-row", timeout=30000)
        assert "Jury : Non acquis" in a.locator("#as-grid .as-row").first.inner_text()

    # …and across a restart of both replicas: B comes back without logging in again.
    with running_app(folder, port_two, env=env, log=tmp_path / "two-again.log") as two, browser() as chromium:
        context = chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
        page = context.new_page()
        login(page, two, JURY_B, PASSWORD_B)
        cookies = context.cookies()
    with running_app(folder, port_two, env=env, log=tmp_path / "two-third.log") as two, browser() as chromium:
        context = chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
        context.add_cookies(cookies)
        page = context.new_page()
        started = time.monotonic()
        page.goto(two + "/")
        page.wait_for_selector("#as-who a", timeout=30000)
        assert NAME_B in page.locator("#as-who").inner_text(), f"not logged in after {time.monotonic() - started:.0f} s"
