"""Dates and times as people read them: day first, local time, the offset from UTC written out.

One formatter for the command line, the review app and the exported documents, so that a
signature shows the same time on the screen and on the signed grid. What is stored stays in
UTC (the database, the audit log, ISO 8601 in JSON); only what people read is local: the
machine's time zone, ``TZ`` in the environment (``TZ=Europe/Paris`` on a server kept in UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime


def local_time(moment: datetime | None, *, seconds: bool = False, zone: bool = True) -> str:
    """« 05/03/2026 15:05 UTC+01:00 » (« … UTC » where local time is UTC); "" for None.

    A naive datetime is taken as UTC. ``zone=False`` leaves the offset out (a table of times on
    one screen); a document that is kept or signed keeps it."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone()
    text = local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
    if not zone:
        return text
    offset = local.strftime("%z")  # +0100
    return f"{text} UTC" if offset in ("", "+0000") else f"{text} UTC{offset[:3]}:{offset[3:]}"


def local_date(moment: datetime | None) -> str:
    """« 05/03/2026 », the local day; "" for None."""
    return local_time(moment, zone=False)[:10]
