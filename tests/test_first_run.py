"""First run of the app: no account, a one-time link printed on the terminal creates the first
administrator in the browser; never an open default account (issue 14, point 4)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from appserver import browser, chromium_missing, login, running_app, screenshots_dir
from assessor.review.auth import UsersFile
from assessor.review.domain import ReviewError, Role
from assessor.settings import AppSettings, Settings
from assessor.webapp import serve
from assessor.webapp.setup import FirstAccount

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/premier-compte\?jeton=[\w-]+)")


def test_the_form_works_once_and_only_with_its_token(tmp_path: Path) -> None:
    recorded: list[tuple[str, str]] = []
    users = UsersFile(tmp_path / "users.yaml")
    first = FirstAccount(users, record=lambda who, action: recorded.append((who, action)))
    token = first.token
    assert token and len(token) >= 30
    assert first.page(None)[0] == 403 and first.page("devine")[0] == 403
    status, page = first.page(token)
    assert status == 200 and "Premier compte administrateur" in page and token in page
    form = {"jeton": token, "identifiant": "admin", "nom": "Alex Martin", "mot_de_passe": "court"}
    status, page = first.create({**form, "confirmation": "court"})
    assert status == 400 and "au moins 8 caractères" in page and not users.path.exists()
    status, page = first.create({**form, "mot_de_passe": "un-long-secret", "confirmation": "autre-secret"})
    assert status == 400 and "diffèrent" in page
    status, page = first.create({**form, "mot_de_passe": "un-long-secret", "confirmation": "un-long-secret"})
    assert status == 200 and "Compte administrateur créé" in page
    account = users.authenticate("admin", "un-long-secret")
    assert account is not None and account.role is Role.ADMIN
    assert recorded == [("admin", "first_admin_created")]
    # The link is dead: the same form again, or the page, is refused and creates nothing.
    again = {**form, "identifiant": "intrus", "mot_de_passe": "un-long-secret", "confirmation": "un-long-secret"}
    assert first.create(again)[0] == 403 and first.page(token)[0] == 403
    assert [u.username for u in users.users()] == ["admin"]


def test_without_an_account_the_app_will_not_start_on_a_public_address(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, app=AppSettings(host="0.0.0.0"))
    with pytest.raises(ReviewError, match="lien à usage unique"):
        serve(settings, prevent_thread_lock=True)


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_first_run_in_the_browser_through_the_printed_link(tmp_path: Path) -> None:
    shots = screenshots_dir(tmp_path)
    data = tmp_path / "data"
    log = tmp_path / "app.log"
    with running_app(data, log=log) as url, browser() as chromium:
        deadline = time.monotonic() + 20
        while not (found := LINK.search(log.read_text(encoding="utf-8"))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert found, log.read_text(encoding="utf-8")
        link = found.group(1).replace("http://127.0.0.1:7860", url) if ":7860/" in found.group(1) else found.group(1)
        assert link.startswith(url)
        # No default account: nobody logs in, and the page refuses without the token.
        assert httpx.get(url + "/premier-compte", trust_env=False).status_code == 403
        assert httpx.get(url + "/premier-compte?jeton=devine", trust_env=False).status_code == 403
        page = chromium.new_page(viewport={"width": 900, "height": 760}, locale="fr-FR")
        page.goto(link)
        page.fill("#identifiant", "admin")
        page.fill("#nom", "Alex Martin")
        page.fill("#mot_de_passe", "un-long-secret")
        page.fill("#confirmation", "un-long-secret")
        page.screenshot(path=str(shots / "06-premier-compte.png"))
        page.locator("button[type=submit]").click()
        page.wait_for_selector("text=Compte administrateur créé")
        page.screenshot(path=str(shots / "07-premier-compte-cree.png"))
        assert httpx.get(link, trust_env=False).status_code == 403  # used once
        wide = chromium.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
        login(wide, url, "admin", "un-long-secret")
        assert "Alex Martin" in wide.locator("#as-who").inner_text()
    users = UsersFile(data / "users.yaml")
    assert [(u.username, u.role) for u in users.users()] == [("admin", Role.ADMIN)]
