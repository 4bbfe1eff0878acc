"""Accounts of the review app: a YAML file of users with scrypt password hashes.

A file rather than a table so that an administrator manages accounts with ``assessor users``
(or a text editor) without the app running, and the database holds no secrets. Hashes use
the standard library's scrypt, so no extra dependency is needed; they never leave this module
in a message, a log line or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from assessor import safe_yaml
from assessor.atomic import write_atomic
from assessor.review.domain import ROLE_LABELS, ReviewError, Role, User

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
HASH_SCHEME = "scrypt"
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[a-z0-9._-]{2,40}$")
FILE_MODE = 0o600
MAX_USERS_FILE_BYTES = 2_000_000
"""About 5,000 accounts: the users file of the largest certifier stays far under."""
FILE_HEADER = (
    "# Comptes de l'application de revue d'Assessor.\n"
    "# Gérez-les avec « assessor users add / list / remove » : les mots de passe sont hachés (scrypt).\n"
)

# Bounds on the parameters read from a file, so a tampered hash cannot make a login burn memory or CPU.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16


class AuthError(ReviewError):
    """A problem with the users file or an account, with a French message (never a password or hash)."""

    code = "compte-refuse"


# -- passwords -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` with a random salt: the parameters travel with the hash."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{HASH_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    malformed = AuthError("Empreinte de mot de passe mal formée : recréez le compte avec « assessor users add ».")
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != HASH_SCHEME:
        raise malformed
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise malformed from None
    valid_n = 2 <= n <= _MAX_N and n & (n - 1) == 0
    if not (valid_n and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P and len(salt) >= 8 and len(key) == KEY_BYTES):
        raise malformed
    return n, r, p, salt, key


def check_password_hash(stored: str) -> None:
    """Raise ``AuthError`` unless ``stored`` is a hash this module can verify."""
    _parse_hash(stored)


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; ``AuthError`` for a malformed hash rather than a silent refusal."""
    n, r, p, salt, key = _parse_hash(stored)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), key)


@cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a login takes as long whether the account exists or not."""
    return hash_password(secrets.token_urlsafe(16))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères.")


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: « Alice » and « alice » are one account, stored in lower case."""
    return username.strip().lower()


def check_username(username: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise AuthError(
            f"Identifiant invalide « {username[:60]} » : de 2 à 40 caractères parmi les lettres sans accent "
            "(majuscules et minuscules sont le même identifiant), les chiffres, le point, le tiret et le tiret bas."
        )


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise AuthError(f"Rôle inconnu « {str(role)[:40]} » : choisissez parmi {choices}.") from None


# -- the users file --------------------------------------------------------------------------


class Account(BaseModel):
    """One entry of the users file. ``password_hash`` is left out of ``repr`` so it never lands in a log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    display_name: str
    role: Role
    password_hash: str = Field(repr=False)
    candidates: list[str] = Field(default_factory=list)

    def user(self) -> User:
        return User(
            username=self.username, display_name=self.display_name, role=self.role, candidates=list(self.candidates)
        )


class UsersFile:
    """``users: [{username, display_name, role, password_hash, candidates}]``, rewritten atomically, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> list[Account]:
        if not self.path.is_file():
            raise AuthError(
                f"Fichier des comptes introuvable : {self.path}. Créez un premier compte avec "
                '« assessor users add IDENTIFIANT --role jury --name "Nom Prénom" ».'
            )
        return self._read()

    def users(self) -> list[User]:
        return [account.user() for account in self.load()]

    def get(self, username: str) -> User | None:
        wanted = normalize_username(username)
        return next((a.user() for a in self.load() if a.username == wanted), None)

    def _read(self) -> list[Account]:
        try:
            data, _ = safe_yaml.load(safe_yaml.read_capped(self.path, MAX_USERS_FILE_BYTES))
        except safe_yaml.YamlLimitError as exc:
            raise AuthError(f"{self.path} : {exc}") from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (ligne {where.line + 1})" if where is not None else ""
            raise AuthError(f"{self.path}{line} : YAML invalide, corrigez le fichier.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(f"{self.path} : lecture impossible ({exc}).") from None
        if data is None:
            return []
        entries = data.get("users") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise AuthError(f"{self.path} : le fichier doit contenir une liste « users: ».")
        accounts = [self._account(entry, number) for number, entry in enumerate(entries, start=1)]
        self._check_unique(accounts)
        return accounts

    def _account(self, entry: Any, number: int) -> Account:
        where = f"{self.path}, compte n° {number}"
        if not isinstance(entry, dict):
            raise AuthError(f"{where} : attendu username, display_name, role, password_hash.")
        unknown = sorted(set(entry) - set(Account.model_fields))
        if unknown:
            raise AuthError(f"{where} : champ inconnu « {unknown[0]} ».")
        for field in ("username", "display_name", "role", "password_hash"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise AuthError(f"{where} : champ « {field} » manquant ou vide.")
        candidates = entry.get("candidates") or []
        if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
            raise AuthError(f"{where} : « candidates » doit être une liste d'identifiants.")
        username = normalize_username(entry["username"])  # a hand-edited file may hold « Alice »
        candidates = [normalize_username(c) for c in candidates]
        try:
            check_username(username)
            role = parse_role(entry["role"])
            check_password_hash(entry["password_hash"])
        except AuthError as exc:
            raise AuthError(f"{where} : {exc}") from None
        return Account(
            username=username,
            display_name=entry["display_name"].strip(),
            role=role,
            password_hash=entry["password_hash"],
            candidates=candidates,
        )

    def _check_unique(self, accounts: Iterable[Account]) -> None:
        seen: set[str] = set()
        for account in accounts:
            if account.username in seen:
                raise AuthError(
                    f"{self.path} : le compte « {account.username} » apparaît deux fois (les identifiants ne "
                    "distinguent pas majuscules et minuscules)."
                )
            seen.add(account.username)

    # -- changing ----------------------------------------------------------------------------

    def add(
        self,
        username: str,
        display_name: str,
        role: Role | str,
        password: str,
        candidates: Sequence[str] = (),
    ) -> Account:
        """Add an account, creating the file if needed; the password is hashed here and never stored."""
        accounts = self._read() if self.path.exists() else []
        username = normalize_username(username)
        check_username(username)
        if any(account.username == username for account in accounts):
            raise AuthError(
                f"Le compte « {username} » existe déjà dans {self.path} (majuscules et minuscules ne "
                "distinguent pas deux identifiants)."
            )
        parsed_role = parse_role(role)
        name = display_name.strip()
        if not name:
            raise AuthError('Indiquez le nom affiché du compte (--name "Nom Prénom").')
        students = list(dict.fromkeys(normalize_username(c) for c in candidates if c.strip()))
        if students and parsed_role is not Role.TRAINER:
            raise AuthError(f"Seul un formateur suit des candidats (rôle demandé : {ROLE_LABELS[parsed_role]}).")
        for student in students:
            check_username(student)
        check_password(password)
        account = Account(
            username=username,
            display_name=name,
            role=parsed_role,
            password_hash=hash_password(password),
            candidates=students,
        )
        self._write([*accounts, account])
        return account

    def remove(self, username: str) -> Account:
        username = normalize_username(username)
        accounts = self.load()
        removed = next((account for account in accounts if account.username == username), None)
        if removed is None:
            raise AuthError(f"Aucun compte « {username[:60]} » dans {self.path}.")
        self._write([account for account in accounts if account.username != username])
        return removed

    def _write(self, accounts: list[Account]) -> None:
        """Temp file in the same folder, then an atomic replace: a crash never leaves half a file."""
        text = FILE_HEADER + yaml.safe_dump(
            {"users": [account.model_dump(mode="json") for account in accounts]},
            allow_unicode=True,
            sort_keys=False,
        )
        write_atomic(self.path, text, mode=FILE_MODE)

    # -- logging in --------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User | None:
        """The account's user if the password matches, else None; as slow for an unknown username."""
        wanted = normalize_username(username)
        account = next((a for a in self.load() if a.username == wanted), None)
        if account is None:
            verify_password(password, _dummy_hash())
            return None
        return account.user() if verify_password(password, account.password_hash) else None
