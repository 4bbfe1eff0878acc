"""Logging through the standard library: one JSON object per line, no personal data, secrets masked.

Modules log with ``logging.getLogger(__name__)`` (all under ``assessor``) and pass only what a
maintainer needs to follow a run: identifiers, counts, durations, settings' names; never a
candidate's text, a quote, a rationale or a password. Every line still goes through
``assessor.redaction`` before it is written, in case a provider's error message quotes a key.

By default the command line and the app show warnings and errors only; ``--verbose`` (or
``ASSESSOR_LOG_LEVEL=DEBUG`` for the app) shows every step. An unexpected error (a bug) is logged
with a trace id that the user's message repeats, and its traceback is written to a file named
after that id, so a user can report it without running the command again.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = "assessor"
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time (UTC), level, logger, event, the ``extra`` fields, trace."""

    def format(self, record: logging.LogRecord) -> str:
        from assessor.redaction import redact

        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["trace"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


class _LiveStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the standard error of the moment (a test runner swaps it), not of the set-up."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure(verbose: bool = False, *, stream: IO[str] | None = None) -> None:
    """Send the ``assessor`` loggers to ``stream`` (by default the standard error), every step if
    ``verbose``, else warnings and errors. Called again, it replaces its own handler: each command
    of a process (tests, the app) sets the level it was asked for."""
    logger = logging.getLogger(ROOT)
    for old in [h for h in logger.handlers if getattr(h, "_assessor", False)]:
        logger.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _LiveStderrHandler()
    handler.setFormatter(JsonFormatter())
    handler._assessor = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    level = os.environ.get("ASSESSOR_LOG_LEVEL", "").upper()
    logger.setLevel(logging.DEBUG if verbose else getattr(logging, level, logging.WARNING))
    logger.propagate = False


def pseudonym(value: str) -> str:
    """A stable short stand-in for an identifier that may name a person (a dossier id such as
    « 2026-durand-camille », a file name, a username): the same value always gives the same
    stand-in, so a run can be followed in the log without the name being written."""
    import hashlib

    return "h:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]


def log_bug(exc: BaseException) -> str:
    """Log an unexpected error with a new trace id, write its traceback to a file named after that id
    (in the temporary folder), and return the id."""
    import traceback
    import uuid

    trace_id = uuid.uuid4().hex[:12]
    logger = logging.getLogger(ROOT)
    logger.debug("unexpected error", exc_info=exc, extra={"trace_id": trace_id})
    from assessor.redaction import redact

    path = bug_file(trace_id)
    try:
        text = redact(f"trace id {trace_id}\n" + "".join(traceback.format_exception(exc)))
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
            out.write(text)  # readable by its owner only: a traceback may name files and folders
    except OSError:
        logger.warning("could not write the bug report", extra={"trace_id": trace_id, "file": str(path)})
    return trace_id


def bug_file(trace_id: str) -> Path:
    """Where the traceback of the bug ``trace_id`` is written."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"assessor-bug-{trace_id}.txt"


__all__ = ["ROOT", "JsonFormatter", "bug_file", "configure", "log_bug", "pseudonym"]
