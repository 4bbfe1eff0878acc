"""The deployment's reverse proxy, run for real: Caddy with ``deploy/Caddyfile`` in front of two replicas.

The Caddyfile is the one shipped, with only its addresses changed for loopback: the public name
becomes ``http://127.0.0.1:PORT`` and the two upstreams ``app-1:7860 app-2:7860`` the two
replicas' ports. A jury member works through the proxy, under its ``/assessor`` prefix, as in
production: logs in, runs a pre-reading, decides a criterion; then each replica in turn is
stopped, and the same browser carries on through the proxy on the other without logging in
again.

Skipped when Caddy is not installed (``scripts/test`` installs it as root, as in CI).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from appserver import ROOT, add_user, browser, chromium_missing, login, running_app
from servers import free_port, serving
from test_app_browser import SAMPLE, choose, start_review, wait_message
from test_chroma_server import chroma_url  # noqa: F401 - the module's Chroma server fixture
from test_review_postgres import Server, server  # noqa: F401 - the module's PostgreSQL fixture

CADDY = shutil.which("caddy")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
    pytest.mark.skipif(CADDY is None, reason="Caddy is not installed (apt-get install caddy)"),
]

JURY, PASSWORD, NAME = "jmartin", "mot-de-passe-jury-1", "Jeanne Martin"
AUDIT_KEY = "clé-d-audit-partagée-par-les-deux-répliques-0123456789"
PREFIX = "/assessor"


def loopback_caddyfile(proxy_port: int, upstreams: list[int]) -> str:
    """deploy/Caddyfile with its public name and its upstreams on loopback; nothing else changed."""
    text = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    site = re.search(r"^(\S+) \{$", text, re.M)
    assert site, "the Caddyfile names its site on a line of its own"
    text = text.replace(site.group(0), f"http://127.0.0.1:{proxy_port} {{", 1)
    replicas = re.search(r"reverse_proxy (app-1:7860 app-2:7860)", text)
    assert replicas, "the Caddyfile proxies to app-1 and app-2"
    text = text.replace(replicas.group(1), " ".join(f"127.0.0.1:{port}" for port in upstreams), 1)
    return "{\n\tadmin off\n}\n\n" + text  # no admin endpoint on a shared test machine


@pytest.fixture(scope="module")
def shared(server: Server, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:  # noqa: F811
    folder = tmp_path_factory.mktemp("proxied-data")
    add_user(folder, JURY, PASSWORD, "jury", NAME)
    env = {
        "ASSESSOR_DATABASE_URL": server.new_database(),
        "ASSESSOR_INDEX__URL": chroma_url,
        "ASSESSOR_AUDIT_KEY": AUDIT_KEY,
        "ASSESSOR_APP__ROOT_PATH": PREFIX,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    yield folder, env


def test_the_shipped_caddyfile_is_valid() -> None:
    assert CADDY is not None
    config = loopback_caddyfile(free_port(), [free_port(), free_port()])
    done = subprocess.run(
        [CADDY, "adapt", "--adapter", "caddyfile", "--config", "/dev/stdin"],
        input=config.encode(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


class Replica:
    """One ``python app.py`` that the test can stop and start again on its port."""

    def __init__(self, folder: Path, port: int, env: dict[str, str], log: Path) -> None:
        self.folder, self.port, self.env, self.log = folder, port, env, log
        self._running: Any = None

    def start(self) -> None:
        self._running = running_app(self.folder, self.port, env=self.env, log=self.log)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


def test_a_jury_works_through_the_proxy_and_a_replica_can_stop(shared: tuple[Path, dict], tmp_path: Path) -> None:
    assert CADDY is not None
    folder, env = shared
    replicas = [Replica(folder, free_port(), env, tmp_path / f"replica-{n}.log") for n in (1, 2)]
    proxy_port = free_port()
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(loopback_caddyfile(proxy_port, [r.port for r in replicas]), encoding="utf-8")
    proxy = f"http://127.0.0.1:{proxy_port}{PREFIX}"
    try:
        for replica in replicas:
            replica.start()
        with (
            serving(
                [CADDY, "run", "--adapter", "caddyfile", "--config", str(caddyfile)],
                url=proxy + "/",
                log=tmp_path / "caddy.log",
                env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "caddy-data"), "PATH": "/usr/bin:/bin"},
            ),
            browser() as chromium,
        ):
            for _ in range(4):  # each replica's page, in turn
                answer = httpx.get(proxy + "/", timeout=10, trust_env=False)
                assert answer.status_code == 200 and "gradio" in answer.text.lower()

            page = chromium.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR").new_page()
            login(page, proxy, JURY, PASSWORD)
            start_review(page, [SAMPLE], "Candidate derrière le proxy")
            page.locator("#as-grid .as-row").first.click()
            page.wait_for_selector("#as-detail .crit", timeout=10000)
            page.locator("#as-action label", has_text="Retenir une autre décision").click()
            choose(page, "#as-outcome", "Non acquis")
            page.locator("#as-reason textarea, #as-reason input").first.fill("Décidé à travers le proxy.")
            page.locator("#as-save").click()
            wait_message(page, "Décision enregistrée")

            # Each replica in turn stops (so the page's own replica stops once, whichever it is); the
            # proxy takes it out, and the same page, reloaded, carries on without a new login.
            for stopped, other in (replicas, replicas[::-1]):
                stopped.stop()
                time.sleep(3)  # beyond the health check's 2 s
                page.goto(proxy + "/")
                page.wait_for_selector("#as-who a", timeout=30000)  # still logged in: sessions in PostgreSQL
                assert NAME in page.locator("#as-who").inner_text()
                page.locator("#as-sessions [role=gridcell]", has_text="Candidate derrière le proxy").first.click()
                page.wait_for_selector("#as-grid .as-row", timeout=30000)
                assert "Jury : Non acquis" in page.locator("#as-grid .as-row").first.inner_text()
                stopped.start()
                assert other._running is not None
    finally:
        for replica in replicas:
            replica.stop()
