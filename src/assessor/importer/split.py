"""Splitting a free-text list (a fiche's competencies or modalities) into items.

The open-data export flattens the certifier's line breaks into runs of spaces, so a run of
two spaces or more is read as a line break. An item starts at a marker (a code such as
``A1C1.``, ``C.1.``, ``1.1.2``, or a bullet ``-``, ``•``, ``*``, ``➢``) or, in a list without
markers, at a line that starts with a capital letter; a line that starts with a small letter
continues the item before it (a wrapped line). Codes printed at the start of an item are
kept apart from its text, with ranges (« A3C3 à A3C6 ») and pairs (« A2C2. et A2C3. ») spelt
out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_BULLET = r"[-–—•*➢►▪◦·o](?=\s)"
# A printed code: A1C1, A5.C1, C.1, C1, C1.2, C.1.1a, CP3, 1.1, 1.1.2, 3.1.2.
_CODE = (
    r"(?:[A-Z]{1,3}\d{1,2}\.?[A-Z]{1,2}\d{1,2}[a-z]?"
    r"|[A-Z]{1,3}\.?\d{1,2}(?:\.\d{1,2}){0,2}[a-z]?"
    r"|\d{1,2}(?:\.\d{1,2}){1,3})"
)
_CODE_AT_START = re.compile(rf"^(?P<code>{_CODE})(?:\s*[.):–-]\s*|\s+)(?=\S)")
_MORE_CODES = re.compile(rf"^(?P<sep>et|&|,|à|au)\s+(?P<code>{_CODE})(?:\s*[.):–-]\s*|\s+)(?=\S)")
_BULLET_AT_START = re.compile(rf"^{_BULLET}\s*")
_MARKER_ALONE = re.compile(rf"^(?:[-–—•*➢►▪◦·]|{_CODE}\.?)$")
_LINE_BREAK = re.compile(r"\s*(?:\r?\n|\s{2,}|\t)\s*")
_NUMBERED = re.compile(r"^(.*?)(\d+)$")
_CONTINUATION = re.compile(r"^[a-zàâäçéèêëîïôöùûüÿœæ(),;:.]")


@dataclass
class Item:
    """One item of a list: its printed codes (maybe none), its text, and its text as published."""

    text: str
    codes: list[str] = field(default_factory=list)
    original: str = ""
    bullet: bool = False


def clean(text: str) -> str:
    """Unicode-normalised text with single spaces."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text).strip()


def lines_of(text: str) -> list[str]:
    """The lines of a flattened text: real line breaks and runs of two spaces or more."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u202f", " ")
    return [line for line in _LINE_BREAK.split(text.strip()) if line.strip()]


def leading_codes(line: str) -> tuple[list[str], str]:
    """The codes printed at the start of a line and the rest of it."""
    match = _CODE_AT_START.match(line)
    if match is None or not _looks_like_code(match.group("code")):
        return [], line
    codes = [match.group("code").rstrip(".")]
    rest = line[match.end() :]
    while more := _MORE_CODES.match(rest):
        code = more.group("code").rstrip(".")
        if more.group("sep") in ("à", "au"):
            codes.extend(_range(codes[-1], code))
        else:
            codes.append(code)
        rest = rest[more.end() :]
    return codes, rest


def _looks_like_code(code: str) -> bool:
    # A bare number such as « 2023 » or « 20 » is not a code; 1.1 and C1 are.
    return bool(re.search(r"[A-Z]", code) or "." in code.rstrip("."))


def _range(first: str, last: str) -> list[str]:
    """« A3C3 à A3C6 » → A3C4, A3C5, A3C6 (the first is already listed)."""
    match_a, match_b = _NUMBERED.match(first), _NUMBERED.match(last)
    if match_a is None or match_b is None or match_a.group(1) != match_b.group(1):
        return [last]
    start, end = int(match_a.group(2)), int(match_b.group(2))
    if end <= start:
        return [last]
    return [f"{match_a.group(1)}{n}" for n in range(start + 1, end + 1)]


def split_items(text: str) -> list[Item]:
    """Split a free-text list into items (see the module docstring)."""
    lines = lines_of(text)
    marked = [_is_marked(line) for line in lines]
    items: list[Item] = []
    pending = ""  # a bullet or a code printed alone on its line belongs to the next line
    for line, is_marked in zip(lines, marked, strict=True):
        if _MARKER_ALONE.match(line):
            pending = f"{pending} {line}".strip()
            continue
        if pending:
            line, is_marked, pending = f"{pending} {line}", True, ""
        continues = bool(items) and not is_marked and (bool(_CONTINUATION.match(line)) or _open(items[-1].original))
        if continues:
            items[-1].original += " " + line
            items[-1].text = clean(items[-1].text + " " + line)
            continue
        bullet = _BULLET_AT_START.match(line)
        body = line[bullet.end() :] if bullet else line
        codes, body = leading_codes(body)
        items.append(Item(text=clean(body), codes=codes, original=line, bullet=bool(bullet)))
    return [i for i in items if i.text]


def _is_marked(line: str) -> bool:
    return bool(_BULLET_AT_START.match(line) or leading_codes(line)[0])


def _open(previous: str) -> bool:
    """A line that ends mid-phrase (a comma, an opening bracket, a hyphen) goes on in the next one."""
    return bool(re.search(r"[,(’'-]\s*$", previous))


def lead_in(items: list[Item]) -> tuple[str | None, list[Item]]:
    """Separate a lead-in (« En mobilisant … : », unmarked, before marked items) from the items."""
    first, rest = (items[0], items[1:]) if items else (None, [])
    unmarked_lead = first is not None and not (first.codes or first.bullet) and first.text.endswith(":")
    if unmarked_lead and rest and all(i.codes or i.bullet for i in rest):
        assert first is not None
        return first.text.rstrip(" :"), rest
    return None, items
