"""The review app in a real process and a real browser, for the browser tests and benchmark.

``running_app`` starts ``python app.py`` (the command a user runs) on a free loopback port
with its own data folder; ``browser`` launches Debian's chromium through Playwright (never
``playwright install``), headless, with background networking off: the machine has no
network and chromium's own connections would only be refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from servers import free_port, serving

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("ASSESSOR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} absent (apt-get install chromium; scripts/test does it when run as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright (Python) absent"
    return None


def add_user(data_dir: Path, username: str, password: str, role: str, name: str, **extra: Any) -> None:
    from assessor.review.auth import UsersFile

    UsersFile(data_dir / "users.yaml").add(username, name, role, password, **extra)


@contextmanager
def running_app(
    data_dir: Path, port: int | None = None, *, log: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``python app.py`` on 127.0.0.1; yields its URL; stops it (SIGTERM, then SIGKILL) on exit."""
    port = port or free_port()
    env = {
        **os.environ,
        "ASSESSOR_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = log or data_dir / f"app-{port}.log"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    with serving(command, url=url + "/", log=log, env=env, cwd=ROOT):
        yield url


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def login(page: Any, url: str, username: str, password: str) -> None:
    """Gradio's login form (its labels follow the browser's language)."""
    page.goto(url + "/")
    page.locator("input[type=text]").first.fill(username)
    page.locator("input[type=password]").first.fill(password)
    page.locator("input[type=password]").first.press("Enter")
    page.wait_for_selector("#as-who a", timeout=30000)  # the logout link: the workspace is loaded


def screenshots_dir(tmp: Path) -> Path:
    """docs/screenshots when ASSESSOR_SCREENSHOTS=1 (to refresh the README's pictures), else a temp folder."""
    refresh = os.environ.get("ASSESSOR_SCREENSHOTS") == "1"
    target = ROOT / "docs" / "screenshots" if refresh else tmp / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


__all__ = ["add_user", "browser", "chromium_missing", "free_port", "login", "running_app", "screenshots_dir"]
