"""Finding transcribed text in a seed (a PDF-to-text extraction with interleaved columns).

Normalisation repairs only what the transcription rules allow: line breaks, words
hyphenated across lines, spacing, apostrophe and quote variants. A text cut by a page
break appears in the seed as up to ``MAX_PARTS`` pieces, in order, with other columns in
between; each piece but the last must be at least ``MIN_PART_WORDS`` words long, so that
a criterion cannot be "found" by stitching stray words together.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from assessor.referential import Referential

MAX_PARTS = 3
MIN_PART_WORDS = 3
# How far after a piece the next piece of the same text may start (one page of columns).
WINDOW = 12_000
# Seed 004 was OCR'd: a piece matches when rapidfuzz's partial_ratio reaches this score.
FUZZY_SCORE = 88.0

_APOSTROPHES = str.maketrans(
    {
        "’": "'",
        "ʼ": "'",
        "‘": "'",
        "`": "'",
        "«": '"',
        "»": '"',
        "“": '"',
        "”": '"',
        "\u00ad": None,
        "\u00a0": " ",
        "\u202f": " ",
        "\t": " ",
    }
)


def normalise_fragment(text: str) -> str:
    """Normalise one line or one transcribed text."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)  # hyphenation across lines
    text = re.sub(r"(?<=\w)-(?=\w)", "", text)  # compound words: compare without the hyphen
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    return re.sub(r"\(\s+", "(", text)


@dataclass
class Seed:
    """A seed text normalised, with the offset of each original line in the normalised text."""

    text: str
    line_offsets: list[int]  # index i: offset of line i+1

    @classmethod
    def from_text(cls, raw: str) -> Seed:
        pieces: list[str] = []
        offsets: list[int] = []
        length = 0
        for line in raw.split("\n"):
            norm = normalise_fragment(line)
            offsets.append(length)
            if not norm:
                continue
            if pieces and pieces[-1].endswith("-") and norm[:1].islower() and re.search(r"\w-$", pieces[-1]):
                pieces[-1] = pieces[-1][:-1]  # a word hyphenated across the line break
                length -= 1
                offsets[-1] = length
                sep = ""
            else:
                sep = "" if not pieces or norm[0] in ",.;:)" or pieces[-1].endswith("(") else " "
            pieces.append(sep + norm)
            length += len(sep) + len(norm)
            offsets[-1] = length - len(norm)
        return cls("".join(pieces), offsets)

    def line_span(self, line: int) -> tuple[int, int]:
        start = self.line_offsets[line - 1]
        end = self.line_offsets[line] if line < len(self.line_offsets) else len(self.text)
        return start, max(end, start)


@dataclass(frozen=True)
class Match:
    parts: list[tuple[int, int]]  # spans in Seed.text

    @property
    def start(self) -> int:
        return self.parts[0][0]


def _find(needle: str, hay: str, lo: int, hi: int, fuzzy: bool) -> tuple[int, int] | None:
    if not fuzzy:
        pos = hay.find(needle, lo, hi)
        return (pos, pos + len(needle)) if pos >= 0 else None
    found = fuzz.partial_ratio_alignment(needle, hay[lo:hi], score_cutoff=FUZZY_SCORE)
    if found is None:
        return None
    return lo + found.dest_start, lo + found.dest_end


def locate(
    needle: str,
    seed: Seed,
    *,
    fuzzy: bool = False,
    first_start: tuple[int, int] | None = None,
) -> Match | None:
    """Find ``needle`` in the seed as up to MAX_PARTS in-order pieces.

    ``first_start`` (lo, hi) constrains where the first piece begins (an anchor's line).
    """
    words = normalise_fragment(needle).split(" ")
    parts: list[tuple[int, int]] = []
    pos = 0
    while words:
        if len(parts) == MAX_PARTS:
            return None
        if parts:
            lo, hi = pos, min(len(seed.text), pos + WINDOW)
        elif first_start is not None:
            lo, hi = first_start[0], min(len(seed.text), first_start[1] + WINDOW)
        else:
            lo, hi = 0, len(seed.text)
        best: tuple[int, tuple[int, int]] | None = None
        low, high = 1, len(words)
        while low <= high:  # the longest prefix of the remaining words that is found
            mid = (low + high) // 2
            span = _find(" ".join(words[:mid]), seed.text, lo, hi, fuzzy)
            if span is not None and not parts and first_start is not None and span[0] > first_start[1] + 3:
                span = None  # the first piece must begin on the anchor's line
            if span is not None:
                best, low = (mid, span), mid + 1
            else:
                high = mid - 1
        if best is None:
            return None
        count, span = best
        if count < len(words) and count < MIN_PART_WORDS:
            return None
        parts.append(span)
        pos = span[1]
        words = words[count:]
    return Match(parts)


# OCR can also shuffle the short line fragments of a cell ("habitudes de / besoins et /
# en analysant les / consommation, les ..."), which no in-order match can follow. For the
# OCR'd seed only, a text also counts as found when every one of its words (three letters
# or more, each matched with this rapidfuzz ratio to allow for OCR noise) occurs, as a
# multiset, inside one window of the seed no longer than twice the text plus a margin.
SCRAMBLED_WORD_SCORE = 80.0


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.casefold()) if len(w) >= 3]


def found_scrambled(needle: str, seed: Seed) -> bool:
    """Every word of ``needle`` inside one local window of the seed (OCR'd seeds only)."""
    wanted = _words(normalise_fragment(needle))
    if not wanted:
        return False
    size = 2 * len(needle) + 300
    step = max(50, len(needle) // 2)
    for start in range(0, max(1, len(seed.text) - size // 2), step):
        pool = _words(seed.text[start : start + size])
        for word in wanted:
            if word in pool:
                pool.remove(word)
                continue
            best = max(pool, key=lambda w: fuzz.ratio(word, w), default=None)
            if best is None or fuzz.ratio(word, best) < SCRAMBLED_WORD_SCORE:
                break
            pool.remove(best)
        else:
            return True
    return False


def starts_with(text: str, prefix: str, *, fuzzy: bool) -> bool:
    """Whether a transcribed text begins with an anchor's first words."""
    text, prefix = normalise_fragment(text), normalise_fragment(prefix)
    if not fuzzy:
        return text.startswith(prefix)
    return fuzz.ratio(text[: len(prefix)], prefix) >= FUZZY_SCORE - 8


def missing_texts(ref: Referential, seed: Seed, *, fuzzy: bool) -> list[str]:
    """Every text of a référentiel (titles, descriptions, activities and tasks, modality texts and
    productions, competency statements and knowledge, group headings, criteria) not found in the seed."""
    texts: list[tuple[str, str]] = []
    for block in ref.blocks:
        texts.append((f"{block.code} title", block.title))
        if block.description:
            texts.append((f"{block.code} description", block.description))
        for activity in block.activities:
            texts.append((f"{block.code} {activity.code} title", activity.title))
            texts += [(f"{block.code} {activity.code} task", task) for task in activity.tasks]
        for modality in block.modalities:
            texts.append((f"{block.code} {modality.id} text", modality.text))
            texts += [(f"{block.code} {modality.id} production", p) for p in modality.productions]
        texts += [(f"{block.code} {c.code} statement", c.statement) for c in block.competencies]
        texts += [(f"{block.code} {c.code} knowledge", k) for c in block.competencies for k in c.knowledge]
        for crit_set in block.criteria:
            texts += [(f"{block.code} {crit_set.key} heading", g.heading) for g in crit_set.groups if g.heading]
    texts += [(c.id, c.text) for c in ref.criteria]
    return [
        f"{where}: {text!r}"
        for where, text in texts
        if locate(text, seed, fuzzy=fuzzy) is None and not (fuzzy and found_scrambled(text, seed))
    ]


Anchors = dict[str, list[dict[str, Any]]]


def count_problems(ref: Referential, raw: str, seed: Seed, anchors: Anchors, *, fuzzy: bool) -> list[str]:
    """Differences between the transcribed criteria and the independent count of the seed."""
    lines = raw.split("\n")
    problems = [
        f"anchor {code} line {a['line']}: {a['starts']!r} is not on that line"
        for code, block_anchors in anchors.items()
        for a in block_anchors
        if str(a["starts"]) not in lines[int(a["line"]) - 1]
    ]
    if sorted(anchors) != sorted(b.code for b in ref.blocks):
        problems.append(f"blocks {sorted(b.code for b in ref.blocks)} differ from the count's {sorted(anchors)}")
    for block in ref.blocks:
        expected = anchors.get(block.code, [])
        criteria = ref.criteria_of(block.code)
        if len(criteria) != len(expected):
            problems.append(f"{block.code}: {len(criteria)} criteria transcribed, {len(expected)} counted in the seed")
        free = list(expected)
        for crit in criteria:
            match = next(
                (
                    a
                    for a in free
                    if starts_with(crit.text, str(a["starts"]), fuzzy=fuzzy)
                    and locate(crit.text, seed, fuzzy=fuzzy, first_start=seed.line_span(int(a["line"]))) is not None
                ),
                None,
            )
            if match is None:
                problems.append(f"{crit.id}: no anchor of {block.code} begins this text: {crit.text[:70]!r}")
            else:
                free.remove(match)
        problems += [f"{block.code} line {a['line']}: seed criterion {a['starts']!r} not transcribed" for a in free]
    return problems
