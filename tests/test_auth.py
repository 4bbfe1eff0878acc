"""Accounts: scrypt hashes, the users file, and ``assessor users`` on the command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from assessor.cli import app
from assessor.cli.users import users_app
from assessor.review.auth import AuthError, UsersFile, hash_password, verify_password
from assessor.review.domain import Role, User

PASSWORD = "correct horse battery"
runner = CliRunner()


def cli() -> typer.Typer:
    """The root app with ``users`` registered (a no-op once cli/__init__.py registers it itself)."""
    if not any(group.name == "users" for group in app.registered_groups):
        app.add_typer(users_app, name="users")
    return app


@pytest.fixture
def users(tmp_path: Path) -> UsersFile:
    return UsersFile(tmp_path / "conf" / "users.yaml")


# -- hashing -------------------------------------------------------------------------------


def test_hash_round_trip_uses_scrypt_with_a_random_salt() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$")
    assert first != second  # salted
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)


def test_wrong_password_is_refused() -> None:
    stored = hash_password(PASSWORD)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "bcrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaA==",
        "scrypt$16384$8$1$not base64!$aGFzaA==",
        "scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,  # n not a power of two
        "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,  # n far too large
        "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==",  # key too short
        "scrypt$16384$8$$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
    ],
)
def test_malformed_hash_is_rejected_with_a_french_message(stored: str) -> None:
    with pytest.raises(AuthError, match="mal formée"):
        verify_password(PASSWORD, stored)


# -- the users file ------------------------------------------------------------------------


def test_add_then_authenticate(users: UsersFile) -> None:
    users.add("marie.dupont", "Dupont Marie", Role.JURY, PASSWORD)
    users.add("form1", "Martin Paul", "trainer", PASSWORD + "2", candidates=["cand1", "cand2"])
    user = users.authenticate("marie.dupont", PASSWORD)
    assert user == User(username="marie.dupont", display_name="Dupont Marie", role=Role.JURY)
    trainer = users.authenticate("form1", PASSWORD + "2")
    assert trainer is not None and trainer.role is Role.TRAINER and trainer.candidates == ["cand1", "cand2"]
    assert users.authenticate("Marie.Dupont ", PASSWORD) == user  # typed with a capital and a space
    assert users.authenticate("marie.dupont", PASSWORD + "2") is None
    assert users.authenticate("nobody", PASSWORD) is None
    assert [u.username for u in users.users()] == ["marie.dupont", "form1"]


def test_file_is_private_and_holds_no_password(users: UsersFile) -> None:
    users.add("marie.dupont", "Dupont Marie", Role.JURY, PASSWORD)
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    text = users.path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    entry = yaml.safe_load(text)["users"][0]
    assert entry["username"] == "marie.dupont" and entry["password_hash"].startswith("scrypt$")
    assert list(users.path.parent.iterdir()) == [users.path]  # no temp file left behind


def test_account_repr_hides_the_hash(users: UsersFile) -> None:
    account = users.add("marie.dupont", "Dupont Marie", Role.JURY, PASSWORD)
    assert "scrypt" not in repr(account) and "password_hash" not in repr(account)


def test_duplicate_and_invalid_accounts_are_refused(users: UsersFile) -> None:
    users.add("marie.dupont", "Dupont Marie", Role.JURY, PASSWORD)
    with pytest.raises(AuthError, match="existe déjà"):
        users.add("marie.dupont", "Autre", Role.ADMIN, PASSWORD)
    with pytest.raises(AuthError, match="Identifiant invalide"):
        users.add("Marie Dupont", "Dupont Marie", Role.JURY, PASSWORD)
    with pytest.raises(AuthError, match="Identifiant invalide"):
        users.add("x", "X", Role.JURY, PASSWORD)
    with pytest.raises(AuthError, match="Rôle inconnu « boss »"):
        users.add("boss", "Boss", "boss", PASSWORD)
    with pytest.raises(AuthError, match="au moins 8 caractères"):
        users.add("court", "Court", Role.JURY, "1234")
    with pytest.raises(AuthError, match="Seul un formateur"):
        users.add("jury2", "Jury Deux", Role.JURY, PASSWORD, candidates=["cand1"])
    assert [a.username for a in users.load()] == ["marie.dupont"]


def test_remove(users: UsersFile) -> None:
    users.add("marie.dupont", "Dupont Marie", Role.JURY, PASSWORD)
    users.add("paul", "Martin Paul", Role.ADMIN, PASSWORD)
    assert users.remove("marie.dupont").username == "marie.dupont"
    assert [a.username for a in users.load()] == ["paul"]
    assert users.authenticate("marie.dupont", PASSWORD) is None
    with pytest.raises(AuthError, match=r"Aucun compte « marie\.dupont »"):
        users.remove("marie.dupont")


def test_missing_file_names_the_path_and_the_fix(users: UsersFile) -> None:
    with pytest.raises(AuthError, match="introuvable") as caught:
        users.load()
    assert str(users.path) in str(caught.value) and "assessor users add" in str(caught.value)
    with pytest.raises(AuthError):
        users.authenticate("marie", PASSWORD)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("users: [unclosed", "YAML invalide"),
        ("- a\n- b\n", "liste « users: »"),
        ("users:\n  - username: marie\n    role: jury\n", "« display_name » manquant"),
        (
            "users:\n  - {username: marie, display_name: M, role: chef, password_hash: x}\n",
            "Rôle inconnu « chef »",
        ),
        (
            "users:\n  - {username: marie, display_name: M, role: jury, password_hash: 'scrypt$1$2'}\n",
            "mal formée",
        ),
        ("users:\n  - {username: marie, display_name: M, role: jury, password_hash: x, admin: true}\n", "admin"),
    ],
)
def test_bad_users_file_gives_a_french_message_with_the_path(users: UsersFile, content: str, expected: str) -> None:
    users.path.parent.mkdir(parents=True)
    users.path.write_text(content, encoding="utf-8")
    with pytest.raises(AuthError, match=expected) as caught:
        users.load()
    assert str(users.path) in str(caught.value)


def test_duplicate_username_in_the_file_is_reported(users: UsersFile) -> None:
    users.add("marie", "Dupont Marie", Role.JURY, PASSWORD)
    data = yaml.safe_load(users.path.read_text(encoding="utf-8"))
    users.path.write_text(yaml.safe_dump({"users": data["users"] * 2}), encoding="utf-8")
    with pytest.raises(AuthError, match="apparaît deux fois"):
        users.load()


# -- command line --------------------------------------------------------------------------


def test_cli_add_with_password_stdin_then_list_and_remove(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = runner.invoke(
        cli(),
        ["--data-dir", str(data_dir), "users", "add", "form1", "--role", "trainer", "--name", "Martin Paul",
         "--candidate", "cand1", "--candidate", "cand2", "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "form1" in result.stdout and "formateur" in result.stdout
    users = UsersFile(data_dir / "users.yaml")
    assert users.authenticate("form1", PASSWORD) is not None  # the newline was not part of the password
    assert users.load()[0].candidates == ["cand1", "cand2"]

    result = runner.invoke(cli(), ["--data-dir", str(data_dir), "users", "list"])
    assert result.exit_code == 0
    assert "form1" in result.stdout and "Martin Paul" in result.stdout and "cand1, cand2" in result.stdout
    assert "scrypt" not in result.output and PASSWORD not in result.output

    result = runner.invoke(cli(), ["--data-dir", str(data_dir), "users", "remove", "form1"])
    assert result.exit_code == 0 and "supprimé" in result.stdout
    assert users.load() == []


def test_cli_prompts_twice_for_the_password(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path), "users", "add", "marie", "--role", "jury", "--name", "Dupont Marie"]
    result = runner.invoke(cli(), args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed hidden
    assert UsersFile(tmp_path / "users.yaml").authenticate("marie", PASSWORD) is not None


def test_cli_errors_are_one_french_line_and_exit_1(tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path), "users"]
    add = [*base, "add", "marie", "--role", "jury", "--name", "Dupont Marie", "--password-stdin"]
    assert runner.invoke(cli(), add, input=PASSWORD + "\n").exit_code == 0

    result = runner.invoke(cli(), add, input=PASSWORD + "\n")
    assert result.exit_code == 1 and "existe déjà" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(
        cli(), [*base, "add", "paul", "--role", "jury", "--name", "P", "--password-stdin"], input="x\n"
    )
    assert result.exit_code == 1 and "au moins 8 caractères" in result.stderr
    result = runner.invoke(cli(), [*base, "remove", "nobody"])
    assert result.exit_code == 1 and "Aucun compte" in result.stderr
    result = runner.invoke(cli(), ["--data-dir", str(tmp_path / "empty"), "users", "list"])
    assert result.exit_code == 1 and "introuvable" in result.stderr
    result = runner.invoke(cli(), [*base, "add", "paul", "--role", "boss", "--name", "P", "--password-stdin"])
    assert result.exit_code == 2  # a wrong command line, caught by the parser
