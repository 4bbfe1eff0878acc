"""The audit log: every automated proposal and every human action, in a keyed hash chain.

Each entry is chained to the previous one by an HMAC-SHA256 whose key lives outside the
database (:class:`AuditKey`): someone who can write to the database can neither rewrite an
entry nor recompute the chain after deleting or inserting one. Entries written before the key
existed (schema 0001) were chained with plain SHA-256; they are marked by an empty ``key_id``
and may only come first, under the first keyed entry, which seals them.

:func:`verify` recomputes the chain and replays it against the tables: each decision, block
decision and signature row must be explained by the entry that recorded it (same content),
each recorded decision must still have its row, and each review must match its creation
entry. An :class:`~assessor.review.domain.AuditAnchor` printed on a signed export (the entry
that sealed the signature and the review's entry count) detects a deleted tail, which a chain
alone cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from assessor.redaction import redactor
from assessor.review.domain import (
    AUDIT_ACTION_LABELS,
    AuditAnchor,
    AuditEntry,
    BlockDecision,
    BlockVerdict,
    CriterionAction,
    CriterionDecision,
    ReviewError,
)
from assessor.review.schema import audit_log, block_decisions, criterion_decisions, reviews, signatures
from assessor.timefmt import local_time

GENESIS_HASH = ""
"""What the first audit entry is chained to."""

KEY_BYTES = 32
MIN_KEY_CHARS = 32
KEY_FILE_NAME = "audit.key"
MIGRATION_ACTION = "schema_migrated"

DECISION_ACTIONS = frozenset({"criterion_accepted", "criterion_overridden", "criterion_commented"})
REVIEW_ACTIONS = frozenset({"review_created", "revision_created"})


# -- the key -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKey:
    """The secret the chain is keyed with; ``source`` says where it came from (never the key itself)."""

    secret: bytes
    source: str

    def __repr__(self) -> str:  # never print the secret
        return f"AuditKey(source={self.source!r}, key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key: tells which key chained an entry, reveals nothing of it."""
        return hmac.new(self.secret, b"assessor-audit-key-id", hashlib.sha256).hexdigest()[:16]

    def mac(self, prev_hash: str, fields: Mapping[str, Any]) -> str:
        message = (prev_hash + canonical_json(fields)).encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    @classmethod
    def from_text(cls, text: str, source: str) -> AuditKey:
        """A key given by setting (``ASSESSOR_AUDIT_KEY``): any text of at least 32 characters."""
        text = text.strip()
        if len(text) < MIN_KEY_CHARS:
            raise ReviewError(
                f"Clé d'audit trop courte ({source}) : au moins {MIN_KEY_CHARS} caractères ; "
                'générez-en une avec : python -c "import secrets; print(secrets.token_hex(32))".'
            )
        return cls(text.encode("utf-8"), source)

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKey:
        """The key in ``path``, created there on first use (random, readable by its owner only)."""
        try:
            return cls.from_text(path.read_text(encoding="utf-8"), f"fichier {path}")
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            raise ReviewError(f"Impossible de lire la clé d'audit {path} : {getattr(exc, 'strerror', exc)}.") from exc
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return cls.load_or_create(path)
        except OSError as exc:
            raise ReviewError(f"Impossible de créer la clé d'audit {path} : {exc.strerror}.") from exc
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        return cls.load_or_create(path)

    @classmethod
    def ephemeral(cls) -> AuditKey:
        """A key that lives as long as the process: for an in-memory database only."""
        return cls(secrets.token_bytes(KEY_BYTES), "clé temporaire (base en mémoire)")


# -- hashing -----------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """The one serialisation the audit hashes are computed over (stable across backends)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def legacy_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The unkeyed SHA-256 chain of schema 0001."""
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def entry_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """What an entry's hash covers: everything but the hashes (and, for a legacy entry, the key id)."""
    fields = {
        "id": values["id"],
        "at": values["at"].astimezone(UTC).isoformat(),
        "actor": values["actor"],
        "action": values["action"],
        "review_id": values["review_id"],
        "criterion_id": values["criterion_id"],
        "before": values["before"],
        "after": values["after"],
        "details": values["details"],
    }
    if values.get("key_id"):
        fields["key_id"] = values["key_id"]
    return fields


def as_stored(value: Any) -> Any:
    """A JSON value as the database gives it back, so that what is hashed is what is read."""
    return json.loads(canonical_json(value))


def entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        review_id=row.review_id,
        criterion_id=row.criterion_id,
        before=row.before,
        after=row.after,
        details=row.details,
        entry_hash=row.entry_hash,
        key_id=row.key_id,
    )


class AuditWriter:
    """Appends keyed entries inside one write transaction (which already holds the append lock)."""

    def __init__(self, connection: sa.Connection, key: AuditKey) -> None:
        self._connection = connection
        self._key = key
        last = connection.execute(
            sa.select(audit_log.c.id, audit_log.c.entry_hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        self._last_id: int = 0 if last is None else last.id
        self._last_hash: str = GENESIS_HASH if last is None else last.entry_hash

    def append(
        self,
        actor: str,
        action: str,
        *,
        at: datetime,
        review_id: str | None = None,
        criterion_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        masked = redactor().json  # the environment's secrets, read once per entry
        values: dict[str, Any] = {
            "id": self._last_id + 1,
            "at": at,
            "actor": actor,
            "action": action,
            "review_id": review_id,
            "criterion_id": criterion_id,
            # Secrets masked before hashing (a model's raw output may repeat an API key): the chain
            # covers exactly what is stored. The store masks what people typed before writing its
            # rows, so that a row and the entry that recorded it stay equal.
            "before": as_stored(masked(before)),
            "after": as_stored(masked(after)),
            "details": as_stored(masked(details or {})),
            "key_id": self._key.key_id,
        }
        entry_hash = self._key.mac(self._last_hash, entry_fields(values))
        self._connection.execute(
            sa.insert(audit_log).values(**values, prev_hash=self._last_hash, entry_hash=entry_hash)
        )
        self._last_id, self._last_hash = values["id"], entry_hash
        return AuditEntry(**values, entry_hash=entry_hash)


# -- what a row looks like in the log ----------------------------------------------------------


def decision(row: sa.Row[Any]) -> CriterionDecision:
    return CriterionDecision(
        criterion_id=row.criterion_id,
        action=CriterionAction(row.action) if row.action else None,
        outcome=row.outcome,
        reason=row.reason,
        comment=row.comment,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def block_decision(row: sa.Row[Any]) -> BlockDecision:
    return BlockDecision(
        block=row.block,
        verdict=BlockVerdict(row.verdict),
        justification=row.justification,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def signature_json(row: sa.Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    values = row._mapping if isinstance(row, sa.Row) else row
    return {
        "signed_by": values["signed_by"],
        "signed_by_name": values["signed_by_name"],
        "signed_at": values["signed_at"].astimezone(UTC).isoformat(),
    }


def review_json(row: sa.Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """The immutable facts of a review row that its creation entry vouches for."""
    values = row._mapping if isinstance(row, sa.Row) else row
    return {
        "revision": values["revision"],
        "parent_id": values["parent_id"],
        "candidate_sha256": text_sha256(values["candidate"]),
        "candidate_username": values["candidate_username"],
        "referential_id": values["referential_id"],
        "blocks": list(values["blocks"]),
        "mode": values["mode"],
        "model": values["model"],
        "created_by": values["created_by"],
        "assigned_jury": list(values["assigned_jury"]),
        "report_sha256": text_sha256(values["report"]),
    }


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- verification ------------------------------------------------------------------------------


def _label(action: str) -> str:
    return AUDIT_ACTION_LABELS.get(action, action)


def _where(row: Any) -> str:
    return f"Entrée {row.id} du journal ({_label(row.action)}, {local_time(row.at, seconds=True)})"


def _chain_problems(rows: Iterable[sa.Row[Any]], key: AuditKey, only: set[int] | None = None) -> list[str]:
    """Breaks of the chain; with ``only``, those of these entries (a gap counts for the entry after it)."""
    problems: list[str] = []
    prev_id, prev_hash = 0, GENESIS_HASH
    keyed_seen = False
    other_keys: Counter[str] = Counter()
    for row in rows:
        mine = only is None or row.id in only
        if mine and row.id != prev_id + 1:
            problems.append(f"Entrées {prev_id + 1} à {row.id - 1} absentes du journal d'audit : supprimées.")
        if mine and row.prev_hash != prev_hash:
            problems.append(f"{_where(row)} : le lien vers l'entrée précédente a été modifié.")
        if row.key_id is None:
            if keyed_seen and mine:
                problems.append(
                    f"{_where(row)} : entrée sans clé placée après des entrées scellées par la clé : ajoutée "
                    "hors de l'outil."
                )
            elif mine and legacy_hash(row.prev_hash, entry_fields(dict(row._mapping))) != row.entry_hash:
                problems.append(f"{_where(row)} : contenu modifié après coup (l'empreinte ne correspond plus).")
        else:
            keyed_seen = True
            if row.key_id != key.key_id:
                other_keys[row.key_id] += 1
            elif mine and key.mac(row.prev_hash, entry_fields(dict(row._mapping))) != row.entry_hash:
                problems.append(f"{_where(row)} : contenu modifié après coup (l'empreinte ne correspond plus).")
        prev_id, prev_hash = row.id, row.entry_hash
    if other_keys:
        listed = ", ".join(f"{key_id} ({count} entrées)" for key_id, count in other_keys.most_common())
        problems.insert(
            0,
            f"La clé d'audit utilisée ({key.source}, empreinte {key.key_id}) n'est pas celle qui a scellé "
            f"des entrées du journal (empreintes {listed}) : ces entrées ne peuvent pas être vérifiées. "
            "Indiquez la bonne clé (réglage ASSESSOR_AUDIT_KEY ou ASSESSOR_AUDIT_KEY_FILE).",
        )
    return problems


@dataclass
class _Explained:
    """What the log says each table should hold, built while reading it."""

    decisions: dict[int, list[dict[str, Any]]]  # audit id -> the decision rows it explains
    blocks: dict[int, list[dict[str, Any]]]
    signatures: dict[int, list[dict[str, Any]]]
    reviews: dict[str, tuple[int, dict[str, Any]]]  # review id -> (entry id, facts)


def _explained(entries: Iterable[sa.Row[Any]]) -> _Explained:
    """What each entry says the tables hold. Legacy (unkeyed) entries explain no row: the migration
    to keyed entries recorded the rows it carried over in its own entry."""
    seen = _Explained(defaultdict(list), defaultdict(list), defaultdict(list), {})
    for row in entries:
        details: dict[str, Any] = row.details or {}
        if row.action in REVIEW_ACTIONS and row.review_id:
            seen.reviews[row.review_id] = (row.id, details)
        if row.key_id is None:
            continue
        if row.action in DECISION_ACTIONS and row.after is not None:
            seen.decisions[row.id].append({"review_id": row.review_id, **row.after})
        elif row.action == "block_decided" and row.after is not None:
            seen.blocks[row.id].append({"review_id": row.review_id, **row.after})
        elif row.action == "review_signed" and row.after is not None:
            seen.signatures[row.id].append({"review_id": row.review_id, **_signature_part(row.after)})
        elif row.action == "revision_created":
            for carried in details.get("carried_decisions", []):
                seen.decisions[row.id].append({"review_id": row.review_id, **carried})
            for carried in details.get("carried_blocks", []):
                seen.blocks[row.id].append({"review_id": row.review_id, **carried})
        elif row.action == MIGRATION_ACTION:
            migrated = details.get("rows", {})
            seen.decisions[row.id] += migrated.get("criterion_decisions", [])
            seen.blocks[row.id] += migrated.get("block_decisions", [])
            seen.signatures[row.id] += migrated.get("signatures", [])
    return seen


def _signature_part(after: Mapping[str, Any]) -> dict[str, Any]:
    return {key: after.get(key) for key in ("signed_by", "signed_by_name", "signed_at")}


def _normal(kind: type[BaseModel] | None, item: Mapping[str, Any]) -> dict[str, Any]:
    """A logged row in the form rows are read in, so that only content differences count (not, say,
    « Z » against « +00:00 »). What does not parse is compared as written, and will differ."""
    body = {k: v for k, v in item.items() if k != "review_id"}
    try:
        if kind is not None:
            body = kind.model_validate(body).model_dump(mode="json")
        else:
            body["signed_at"] = datetime.fromisoformat(body["signed_at"]).astimezone(UTC).isoformat()
    except (ValueError, TypeError, KeyError):
        pass
    return {"review_id": item.get("review_id"), **body}


def _normalised(explained: dict[int, list[dict[str, Any]]], kind: type[BaseModel] | None) -> None:
    for items in explained.values():
        items[:] = [_normal(kind, item) for item in items]


def _difference(stored: Mapping[str, Any], logged: Mapping[str, Any]) -> str:
    """The first field where a row and its log entry differ, in words."""
    for name in sorted(set(stored) | set(logged)):
        if stored.get(name) != logged.get(name):
            return f"{name} : « {stored.get(name)} » dans la base, « {logged.get(name)} » au journal"
    return "contenu différent"


def _check_rows(
    rows: list[tuple[int, dict[str, Any]]],
    explained: dict[int, list[dict[str, Any]]],
    label: str,
    key_of: tuple[str, ...],
    known_ids: set[int],
) -> list[str]:
    """Each row against the entry that recorded it; each recorded row still present.

    ``label`` names a row from its ``key_of`` values (« Décision sur le critère {1} de la revue {0} »).
    """
    describe = {}
    for item in [row for _, row in rows] + [item for items in explained.values() for item in items]:
        values = [item.get(k) for k in key_of]
        describe[canonical_json(values)] = label.format(*values)
    problems: list[str] = []
    found: set[tuple[int, str]] = set()
    for audit_id, row in rows:
        what = describe[canonical_json([row[k] for k in key_of])]
        logged = explained.get(audit_id, [])
        same_key = [item for item in logged if all(item.get(k) == row[k] for k in key_of)]
        if not same_key:
            reason = (
                "l'entrée du journal qu'elle cite n'existe pas"
                if audit_id not in known_ids
                else f"l'entrée {audit_id} du journal ne l'enregistre pas"
            )
            problems.append(f"{what} : aucune entrée du journal ne l'explique ({reason}) : ajoutée hors de l'outil.")
            continue
        if not any(item == row for item in same_key):
            problems.append(
                f"{what} (entrée {audit_id}) : ne correspond plus au journal ({_difference(row, same_key[0])}) : "
                "modifiée hors de l'outil."
            )
        found.add((audit_id, canonical_json([row[k] for k in key_of])))
    for audit_id, items in explained.items():
        for item in items:
            identity = canonical_json([item.get(k) for k in key_of])
            if (audit_id, identity) not in found:
                problems.append(
                    f"{describe[identity]} enregistrée au journal (entrée {audit_id}) : absente de la base "
                    "(supprimée hors de l'outil)."
                )
    return problems


def verify(connection: sa.Connection, key: AuditKey, *, review_id: str | None = None) -> list[str]:
    """Every break of the chain, and every row the log does not explain, in French (empty: intact).

    With ``review_id``, the rows of that review only (the chain is still read whole).
    """
    entries = list(connection.execute(sa.select(audit_log).order_by(audit_log.c.id)))
    mine = [row for row in entries if review_id is None or row.review_id == review_id or row.action == MIGRATION_ACTION]
    problems = _chain_problems(entries, key, None if review_id is None else {row.id for row in mine})
    known_ids = {row.id for row in entries}
    explained = _explained(mine)
    if review_id is not None:
        explained = _only_review(explained, review_id)
    _normalised(explained.decisions, CriterionDecision)
    _normalised(explained.blocks, BlockDecision)
    _normalised(explained.signatures, None)

    def rows_of(table: sa.Table) -> list[sa.Row[Any]]:
        query = sa.select(table)
        if review_id is not None:
            query = query.where((table.c.id if table is reviews else table.c.review_id) == review_id)
        return list(connection.execute(query))

    decision_rows = [
        (r.audit_id, {"review_id": r.review_id, **decision(r).model_dump(mode="json")})
        for r in rows_of(criterion_decisions)
    ]
    block_rows = [
        (r.audit_id, {"review_id": r.review_id, **block_decision(r).model_dump(mode="json")})
        for r in rows_of(block_decisions)
    ]
    signature_rows = [(r.audit_id, {"review_id": r.review_id, **signature_json(r)}) for r in rows_of(signatures)]

    checks = (
        (
            decision_rows,
            explained.decisions,
            "Décision sur le critère {1} de la revue {0}",
            ("review_id", "criterion_id"),
        ),
        (block_rows, explained.blocks, "Décision sur le bloc {1} de la revue {0}", ("review_id", "block")),
        (signature_rows, explained.signatures, "Signature de la revue {0}", ("review_id",)),
    )
    for rows, logged, label, key_of in checks:
        problems += _check_rows(rows, logged, label, key_of, known_ids)
    versions: dict[str, int] = {}
    for row in mine:
        version = (row.details or {}).get("version")
        if row.review_id and isinstance(version, int):
            versions[row.review_id] = max(versions.get(row.review_id, 1), version)
    problems += _review_problems(rows_of(reviews), explained.reviews, review_id, versions)
    return problems


def _only_review(explained: _Explained, review_id: str) -> _Explained:
    def keep(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if item.get("review_id") == review_id]

    return _Explained(
        {k: keep(v) for k, v in explained.decisions.items() if keep(v)},
        {k: keep(v) for k, v in explained.blocks.items() if keep(v)},
        {k: keep(v) for k, v in explained.signatures.items() if keep(v)},
        {k: v for k, v in explained.reviews.items() if k == review_id},
    )


REVIEW_FACTS = (
    "revision",
    "parent_id",
    "candidate_sha256",
    "candidate_username",
    "referential_id",
    "blocks",
    "mode",
    "model",
    "created_by",
    "assigned_jury",
    "report_sha256",
)


def _review_problems(
    rows: list[sa.Row[Any]],
    logged: Mapping[str, tuple[int, dict[str, Any]]],
    review_id: str | None,
    versions: Mapping[str, int],
) -> list[str]:
    """Each review row against its creation entry (only the facts that entry recorded: older ones have fewer),
    and its version counter against the last change the log records (a deleted tail lowers the latter)."""
    problems: list[str] = []
    present = set()
    for row in rows:
        present.add(row.id)
        if row.version != versions.get(row.id, 1):
            problems.append(
                f"Revue {row.id} : à la version {row.version}, alors que le journal s'arrête à la version "
                f"{versions.get(row.id, 1)} : des entrées de la fin du journal ont été supprimées."
            )
        if row.id not in logged:
            problems.append(
                f"Revue {row.id} : aucune entrée de création dans le journal d'audit : ajoutée hors de l'outil."
            )
            continue
        audit_id, details = logged[row.id]
        facts = review_json(row)
        for name in REVIEW_FACTS:
            if name in details and details[name] != facts[name]:
                what = "le rapport de la machine" if name == "report_sha256" else name
                problems.append(
                    f"Revue {row.id} : {what} ne correspond plus à l'entrée {audit_id} du journal : modifié hors de "
                    "l'outil."
                )
    for missing in sorted(set(logged) - present):
        if review_id is None or missing == review_id:
            problems.append(
                f"Revue {missing} enregistrée au journal (entrée {logged[missing][0]}) : absente de la base."
            )
    return problems


# -- anchors -----------------------------------------------------------------------------------


def anchor(connection: sa.Connection, review_id: str, key: AuditKey) -> AuditAnchor:
    """What a signed export carries: the entry that sealed the signature (or, unsigned, the review's
    newest entry) and how many entries the review had up to it."""
    sealed = connection.execute(
        sa.select(signatures.c.audit_id).where(signatures.c.review_id == review_id)
    ).scalar_one_or_none()
    if sealed is None:
        sealed = connection.execute(
            sa.select(sa.func.max(audit_log.c.id)).where(audit_log.c.review_id == review_id)
        ).scalar_one()
    row = connection.execute(sa.select(audit_log).where(audit_log.c.id == sealed)).one()
    return AuditAnchor(
        review_id=review_id,
        entry_id=row.id,
        entry_hash=row.entry_hash,
        review_entries=_entries_up_to(connection, review_id, row.id),
        key_id=row.key_id or "",
    )


def _entries_up_to(connection: sa.Connection, review_id: str, entry_id: int) -> int:
    """How many entries the log holds about a review, up to and including ``entry_id``."""
    count = connection.execute(
        sa.select(sa.func.count())
        .select_from(audit_log)
        .where(audit_log.c.review_id == review_id, audit_log.c.id <= entry_id)
    ).scalar_one()
    return int(count)


def anchor_problems(connection: sa.Connection, held: AuditAnchor, key: AuditKey) -> list[str]:
    """What the database lost or changed since an export carrying ``held`` was made."""
    problems: list[str] = []
    row = connection.execute(sa.select(audit_log).where(audit_log.c.id == held.entry_id)).first()
    if row is None:
        last = connection.execute(sa.select(sa.func.max(audit_log.c.id))).scalar_one() or 0
        return [
            f"L'entrée {held.entry_id} du journal, qui scelle la grille exportée, a disparu (le journal s'arrête "
            f"à l'entrée {last}) : la fin du journal a été supprimée."
        ]
    if row.entry_hash != held.entry_hash:
        problems.append(
            f"L'entrée {held.entry_id} du journal ne porte plus l'empreinte imprimée sur la grille exportée : "
            "le journal a été réécrit."
        )
    if held.key_id and held.key_id != key.key_id:
        problems.append(
            f"La grille exportée a été scellée avec la clé {held.key_id}, la vérification utilise la clé "
            f"{key.key_id} : indiquez la bonne clé."
        )
    count = _entries_up_to(connection, held.review_id, held.entry_id)
    if count != held.review_entries:
        problems.append(
            f"La revue {held.review_id} comptait {held.review_entries} entrées au journal jusqu'à l'entrée "
            f"{held.entry_id} selon la grille exportée ; il en reste {count} : des entrées ont été supprimées."
        )
    return problems
