"""Private files (issue 15, point 3): two users log in to the real app and try each other's URLs.

Alice (jury) owns a review with an export and a rendered page, and uploads a file; Bob (another
jury member, not assigned) and an anonymous visitor try every one of those URLs, through the
app's private route and through Gradio's own file route. Only Alice gets anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from appserver import add_user, running_app
from assessor.review.auth import UsersFile
from assessor.review.store import ReviewStore
from assessor.settings import Settings
from assessor.webapp.files import PrivateFiles
from reviewdata import SAMPLE, evidence_report

PASSWORD = "mot-de-passe-solide"


@dataclass
class Site:
    url: str
    data: Path
    export: str
    page: str
    export_path: Path

    def login(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/login", data={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return client


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("private") / "data"
    data.mkdir()
    for username, role in [("alice", "jury"), ("bob", "jury"), ("carole", "candidate"), ("root", "admin")]:
        add_user(data, username, PASSWORD, role, username.title())
    settings = Settings(data_dir=data)
    store = ReviewStore.from_settings(settings)
    users = UsersFile(settings.resolved_users_file)
    alice = users.get("alice")
    assert alice is not None
    review = store.create_review(evidence_report(data), user=alice, candidate="Camille Exemple").summary.id
    files = PrivateFiles(data, store, users)
    export = files.export_path(review, "grille-camille.csv")
    export.write_text("critère;décision\n", encoding="utf-8")
    page = files.pages_dir(review) / "rendu.png"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with running_app(data) as url:
        yield Site(url, data, files.url(export), files.url(page), export)


def test_the_owner_gets_her_export_and_page_and_no_one_else_does(site: Site) -> None:
    alice, bob, anonymous = site.login("alice"), site.login("bob"), httpx.Client(base_url=site.url)
    got = alice.get(site.export)
    assert got.status_code == 200 and got.text == "critère;décision\n"
    assert "attachment" in got.headers["content-disposition"]
    assert alice.get(site.page).headers["content-type"] == "image/png"
    for url in (site.export, site.page):
        refused = bob.get(url)
        assert refused.status_code == 404 and "réservé à d'autres utilisateurs" in refused.text
        assert anonymous.get(url).status_code == 401


def test_a_case_variant_of_the_username_is_the_same_account(site: Site) -> None:
    assert site.login("ALICE").get(site.export).status_code == 200


def test_gradio_file_route_serves_nothing_of_the_data_folder(site: Site) -> None:
    for client in (site.login("alice"), site.login("bob")):
        for path in (site.export_path, site.data / "users.yaml", site.data / "assessor.db"):
            assert client.get(f"/gradio_api/file={path}").status_code == 403


def test_tampered_private_urls_are_refused(site: Site) -> None:
    alice = site.login("alice")
    review = site.export.split("/")[3]
    for url in (
        f"/assessor/fichiers/{review}/..%2F..%2F/users.yaml",
        f"/assessor/fichiers/{review}/x/..",
        "/assessor/fichiers/..%2Fusers.yaml/a/b",
        f"/assessor/fichiers/{review}/nope/grille-camille.csv",
    ):
        assert alice.get(url).status_code == 404


def test_an_upload_is_served_to_its_sender_only(site: Site) -> None:
    alice, bob = site.login("alice"), site.login("bob")
    sent = alice.post("/gradio_api/upload", files={"files": ("dossier.pdf", SAMPLE.read_bytes(), "application/pdf")})
    assert sent.status_code == 200, sent.text
    path = sent.json()[0]
    assert alice.get(f"/gradio_api/file={path}").status_code == 200
    assert bob.get(f"/gradio_api/file={path}").status_code == 403


def test_uploads_are_limited_to_the_types_of_each_role(site: Site) -> None:
    uploads = site.data / "uploads"
    before = {p for p in uploads.rglob("*") if p.is_file()} if uploads.exists() else set()
    candidate = site.login("carole")
    sent = candidate.post("/gradio_api/upload", files={"files": ("notes.txt", b"Mes notes.\n", "text/plain")})
    assert sent.status_code == 400
    assert "Type de fichier refusé : « notes.txt »" in sent.text and "votre rôle : PDF, DOCX" in sent.text
    after = {p for p in uploads.rglob("*") if p.is_file()}
    assert not {p for p in after - before if p.name == "notes.txt"}  # deleted as soon as it was refused
    script = site.login("alice").post("/gradio_api/upload", files={"files": ("x.exe", b"MZ", "application/x-dosexec")})
    assert script.status_code == 400
    admin = site.login("root").post("/gradio_api/upload", files={"files": ("d.pdf", b"%PDF-1.4", "application/pdf")})
    assert admin.status_code == 403 and "ne permet pas d'envoyer" in admin.text


def test_names_starting_with_a_dash_are_served_and_dots_are_not(tmp_path: Path) -> None:
    from assessor.webapp.files import _NAME

    assert _NAME.match("-aB3_xY9kLm0") and _NAME.match("_Zq") and _NAME.match("grille-camille.csv")
    assert not any(_NAME.match(name) for name in (".", "..", ".key", "a/b", "a b", ""))
