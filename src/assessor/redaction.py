"""Secrets never written nor shown: provider keys, tokens and passwords are masked first.

A model, or a proxy in front of it, may repeat its request headers in its answer
(« Authorization: Bearer sk-… »), and a provider's error message may quote the key it
refused. Whatever stores or shows provider text goes through this module first: each model
attempt's raw output and errors (``assessment``), the result cache and the report
(``pipeline``), rendered reports (``report``), the batch run database and files (``batch``),
the review audit (``review.store``) and the command line's error messages.

What is masked:

* known values, in clear and in their URL-encoded, base64, JSON- and HTML-escaped forms: the
  value of every ``*_API_KEY``, ``*_TOKEN``, ``*_SECRET`` and ``*_PASSWORD`` variable of the
  environment and of ``.env`` (as ``assessor.llm`` reads them: ``OPENAI_API_KEY``,
  ``MISTRAL_API_KEY``, ``ANTHROPIC_API_KEY``, ``AZURE_OPENAI_API_KEY``…), the password of any
  URL among those values (``ASSESSOR_DATABASE_URL``, a proxy), the ``SecretStr`` fields of a
  chat model (``secrets_of``) and any value a caller passes. Values shorter than
  ``MIN_SECRET_CHARS`` are left alone: « no-key », a placeholder, would otherwise eat words;
* shapes: ``Authorization`` and ``Proxy-Authorization`` headers, ``Bearer`` tokens,
  ``api-key``/``x-api-key`` headers and ``api_key=`` parameters, URL passwords
  (``scheme://user:password@host``), well-known key formats (``sk-…``, ``sk-ant-…``, ``hf_…``,
  ``ghp_…``, ``AKIA…``, ``AIza…``, ``xox…-``, JSON web tokens), long mixed tokens after
  « key », « token », « secret », « password », « clé », « jeton » or « mot de passe », and,
  in JSON values, any string under a key named like a secret (``api_key``, ``authorization``…).

What is kept: the header or parameter name and the scheme (« Authorization: Bearer
[secret masqué] »), so that an expert reading the audit sees what was there; no character of
the secret itself, not even a provider prefix such as ``sk-proj-``: it would tell little, and
the first characters of a password tell too much. Masking is idempotent, takes a few
milliseconds for a long answer, and leaves ordinary French text alone (tested on the sample
dossiers).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from pydantic import BaseModel

MASK = "[secret masqué]"
MIN_SECRET_CHARS = 8

M = TypeVar("M", bound="BaseModel")
J = TypeVar("J")

_SECRET_VARIABLE = re.compile(r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.I)
_SECRET_FIELD = re.compile(
    r"^(?:x[-_])?(?:api[-_]?key|(?:proxy[-_])?authorization|(?:access|refresh|auth|bearer|id)[-_]?token|token"
    r"|(?:client[-_])?secret|password|passwd)$",
    re.I,
)
# A token as headers carry them (RFC 7235 token68): no space, no quote, never the mask's « [ ».
_TOKEN = r"[A-Za-z0-9._~+/\-]{8,}=*"
# Where a header or parameter name starts: not inside a word, but possibly right after a JSON
# escape (« …\nAuthorization: Bearer … » in the raw text of a JSON answer).
_START = r"(?:(?<![A-Za-z0-9])|(?<=\\[nrt]))"
_HEADER = re.compile(
    r"(?i)(" + _START + r"(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(bearer|basic|token|digest|apikey)\s+)?" + _TOKEN
)
_BEARER = re.compile(r"(?i)" + _START + r"(bearer\s+)(?=[A-Za-z._~+/\-]*\d)[A-Za-z0-9._~+/\-]{12,}=*")
_KEY_HEADER = re.compile(
    r"(?i)(" + _START + r"(?:x-)?(?:api[-_]?key|goog-api-key|auth[-_]token|access[-_]token|secret[-_]key"
    r"|client[-_]secret|ocp-apim-subscription-key))"
    r"([\"']?\s*[:=]\s*[\"']?)" + _TOKEN
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@\[\]\"'<>]+:)[^\s@/\[\]\"'<>]+@")
_SHAPES = re.compile(
    _START + r"(?:"
    r"(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic (sk-ant-…), Stripe-like keys
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"  # JSON web token
    r")"
)
_LABELLED = re.compile(  # a word on its own: « dossier_key » or « input_tokens » are not labels
    r"(?i)((?:(?<![A-Za-z0-9_\-])|(?<=\\[nrt]))"
    r"(?:api[ _-]?key|key|token|secret|password|passwd|pwd|clé(?: d'api)?|cle|jeton|mot de passe)(?![A-Za-z0-9])"
    r"[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9._~+/\-]{16,}=*)"
)


def _high_entropy(token: str) -> bool:
    """Letters and digits mixed, and varied enough to be random (not « grands-comptes-b1 »)."""
    if sum(c.isdigit() for c in token) < 3 or sum(c.isalpha() for c in token) < 3:
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 3.5


def _base64_forms(secret: str) -> set[str]:
    """The part of the base64 text that only the secret determines, at each of the 3 alignments,
    so that the secret is found inside a longer encoded value (a Basic header's « user:key »)."""
    data = secret.encode()
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        first, end = math.ceil(8 * offset / 6), (8 * (offset + len(data))) // 6
        fragment = encoded[first:end]
        forms |= {fragment, fragment.replace("+", "-").replace("/", "_")}
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def _forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1], html.escape(secret)}
    return forms | _base64_forms(secret)


class Redactor:
    """Masks a fixed set of known secret values, and the shapes of secrets (see the module docstring)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s.strip() for s in secrets if len(s.strip()) >= MIN_SECRET_CHARS}
        forms = sorted({f for s in values for f in _forms(s)}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, forms))) if forms else None

    def text(self, text: str) -> str:
        """``text`` with every secret masked."""
        if len(text) < MIN_SECRET_CHARS:  # too short to hold a secret or any shape below (most JSON keys)
            return text
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _HEADER.sub(lambda m: m.group(1) + (f"{m.group(2)} " if m.group(2) else "") + MASK, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        text = _KEY_HEADER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", text)
        text = _SHAPES.sub(MASK, text)
        return _LABELLED.sub(lambda m: m.group(1) + MASK if _high_entropy(m.group(2)) else m.group(0), text)

    def json(self, value: J) -> J:
        """A JSON-like value (dicts, lists, tuples, strings…) with every string masked, and the
        whole string under a key named like a secret (``api_key``, ``authorization``…)."""
        return self._walk(value)  # type: ignore[no-any-return]

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                self._walk(key): MASK
                if isinstance(key, str) and isinstance(item, str) and item and _SECRET_FIELD.match(key)
                else self._walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item) for item in value)
        return value

    def model(self, model: M) -> M:
        """A pydantic model with every string masked (the same object when nothing was)."""
        data = model.model_dump(mode="json")
        masked = self.json(data)
        return model if masked == data else type(model).model_validate(masked)


def _url_passwords(value: str) -> set[str]:
    if "://" not in value or "@" not in value:
        return set()
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return set()
    return {password, unquote(password)} if password else set()


def known_secrets(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The secret values of ``env`` (default: the environment over ``.env``, as ``assessor.llm``
    reads it): provider keys, tokens, passwords, and the passwords of URLs."""
    if env is None:
        from assessor.environment import process_environment

        env = process_environment()
    return _secrets_in(frozenset(env.items()))


@lru_cache(maxsize=32)
def _secrets_in(variables: frozenset[tuple[str, str]]) -> frozenset[str]:
    """``known_secrets`` of one state of the environment: the audit log redacts every entry it
    appends, and the environment rarely changes between two entries."""
    found: set[str] = set()
    for name, value in variables:
        if _SECRET_VARIABLE.search(name):
            found.add(value.strip())
        found |= _url_passwords(value)
    return frozenset(s for s in found if len(s) >= MIN_SECRET_CHARS)


def secrets_of(obj: object) -> frozenset[str]:
    """The values of an object's ``SecretStr`` attributes: the key a chat model was built with."""
    from pydantic import SecretStr

    values = getattr(obj, "__dict__", {}).values()
    return frozenset(v.get_secret_value() for v in values if isinstance(v, SecretStr))


@lru_cache(maxsize=16)
def _redactor(secrets: frozenset[str]) -> Redactor:
    return Redactor(secrets)


def redactor(secrets: Iterable[str] = (), *, env: Mapping[str, str] | None = None) -> Redactor:
    """A redactor of ``secrets`` and of the known secrets of ``env`` (see ``known_secrets``)."""
    return _redactor(known_secrets(env) | frozenset(secrets))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the environment's secrets, ``secrets`` and secret-shaped tokens masked."""
    return redactor(secrets).text(text)


def redact_json(value: J, secrets: Iterable[str] = ()) -> J:
    """``Redactor.json`` with the environment's secrets and ``secrets``."""
    return redactor(secrets).json(value)


def redact_model(model: M, secrets: Iterable[str] = ()) -> M:
    """``Redactor.model`` with the environment's secrets and ``secrets``."""
    return redactor(secrets).model(model)
