"""Citations are verified, never trusted: each quote must be found in the passage it cites.

A language model cites a retrieved passage by its chunk id and a verbatim quote. This
module checks every such citation against the passage text and records why it passed or
failed; a citation is never silently dropped, and a failed one is reported back to the
model (:func:`errors_for_retry`) so that it can correct itself.

Matching form
-------------
Quote and passage are compared in a *matching form* that only removes differences of
typography, never of wording (see :func:`matching_form`):

- every character goes through the project's :func:`~assessor.ingest.normalize.normalize_text`
  (NFC, ligatures expanded, soft hyphens and zero-width characters removed, odd spaces made
  plain), then is casefolded; « œ » and « æ » are spelt « oe » and « ae »;
- apostrophes (’ ' ʼ ‘ …) become ``'``, dashes and hyphens (‐ ‑ – — −) become ``-``, « … »
  becomes ``...``;
- double quotation marks of every style (« » “ ” „ " ‹ ›) and table separators (``|``) are read
  as spaces, so « texte », "texte" and “texte” match whatever the spacing inside the marks,
  and a table row « Outil | Usage » matches « Outil Usage »;
- a hyphen between two letters is dropped, together with the line break that may follow it:
  a word hyphenated across lines (« déve-\\nloppement ») and a compound word split across
  lines (« bien-\\nêtre ») match whichever way the quote spells them;
- runs of whitespace, line breaks included, become one space; the space that French
  typography puts before ``: ; ! ?`` is dropped; leading and trailing spaces are removed.

Rules
-----
Applied in this order by :func:`verify_quote`:

1. A quote of fewer than three words fails: too short to prove anything.
2. A quote with an ellipsis (``...``, ``…``, ``[…]``, ``(...)``) fails, since it marks a cut,
   unless the quote, ellipsis included, is found verbatim in the passage (the candidate wrote
   it).
3. A quote found in the passage's matching form, starting and ending on word boundaries,
   passes (score 100). Word boundaries matter: « n'est pas » must not pass inside « n'est
   passé ».
4. Otherwise the quote passes only when all three hold:

   - rapidfuzz ``partial_ratio`` of quote against passage is at least
     :data:`QUOTE_MATCH_THRESHOLD`;
   - the passage span aligned with the quote is within 10 % of the quote's length (a quote
     that runs past the passage, or of which only a part is found, fails);
   - word for word, the quote has exactly the words of a run of the passage, in order, except
     at most one word, which may differ only by its accents, or by one character (two for a
     word of eight characters or more) when the passage's word has at least four characters
     and no digit. Dates, amounts and durations must be exact; short words (« il » / « on »,
     « le » / « la ») must be exact but for accents.

   The word rule is what makes a quote stitched from two places of the passage fail however
   long it is: with a gap of 30 characters between two long fragments, ``partial_ratio``
   alone stays above 95 once the quote exceeds about 600 characters, while the word run
   breaks at the seam.

Otherwise the quote fails, and the reason gives the best ``partial_ratio`` score.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from assessor.chunking import Chunk
from assessor.ingest.normalize import normalize_text
from assessor.results import Citation

QUOTE_MATCH_THRESHOLD = 95.0
"""Least rapidfuzz ``partial_ratio`` score (0-100) for a quote not found verbatim.

``partial_ratio`` compares the quote with the best-matching stretch of the passage of the
same length; one character substituted costs about ``100 / len(quote)`` points. At 95, a
quote of 20 characters (about three short words) tolerates one substituted character, a
quote of 60 characters three, and a quote of 200 characters ten. The word rule (see the
module docstring) then allows at most one of those differences to touch a word rather
than punctuation, so the tolerance covers a typo, a missing accent or a corrected OCR
misreading, never a paraphrase.
"""

MIN_QUOTE_WORDS = 3
"""A quote must have at least this many words (whitespace-separated, with a letter or digit)."""

SPAN_LENGTH_TOLERANCE = 0.10
"""The aligned passage span must be within this fraction of the quote's length."""

UNKNOWN = "?"
"""File and locator of a citation whose passage id was not among the retrieved passages."""

_MATCH_MAP: dict[str, str] = {
    **dict.fromkeys("'’ʼ‘‛′`´", "'"),
    **dict.fromkeys('«»“”„‟"″‹›', " "),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("|¦│", " "),
    "…": "...",
    "œ": "oe",
    "æ": "ae",
}
_NO_SPACE_BEFORE = frozenset(":;!?")
_ELLIPSIS = re.compile(r"…|\.\s*\.\s*\.")
_WORD = re.compile(r"[^\W_]+")
_LETTER = re.compile(r"[^\W\d_]")  # as in normalize_text


@dataclass(frozen=True)
class QuoteCheck:
    """The outcome of checking one quote against one passage.

    ``start`` and ``end`` are offsets into the passage as given (not its matching form) of
    the text the quote was found at, or None when it was not found.
    """

    ok: bool
    score: float
    reason: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class _Form:
    """A text's matching form, with the span of the original text each character comes from."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original text of the matching-form slice ``[start, end)``."""
        return self.spans[start][0], self.spans[end - 1][1]


@lru_cache(maxsize=4096)
def _cluster_form(cluster: str) -> str:
    """A character (with its combining marks) through the project's normalize_text.

    It is framed by two NUL characters, which neither compose with an accent nor count as
    spaces, so that normalize_text's stripping of line ends and collapsing of spaces leave
    a lone space or line break in place.
    """
    return normalize_text(f"\x00{cluster}\x00")[1:-1].casefold()


def _form(text: str) -> _Form:
    """Compute the matching form (see the module docstring), keeping track of offsets."""
    # 1. Character by character: what normalize_text removes (soft hyphens, zero-width
    # characters...) goes first, so that an accent after it composes as it would in the
    # whole text; then each base character with its combining marks.
    kept = [i for i, c in enumerate(text) if _cluster_form(c)]
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    k, n = 0, len(kept)
    while k < n:
        j = k + 1
        while j < n and unicodedata.combining(text[kept[j]]):
            j += 1
        cluster = "".join(text[i] for i in kept[k:j])
        for c in _cluster_form(cluster):
            for m in _MATCH_MAP.get(c, c):
                chars.append(" " if m.isspace() and m != "\n" else m)
                spans.append((kept[k], kept[j - 1] + 1))
        k = j

    joined_c: list[str] = []  # 2. hyphens between letters, and the line break after them
    joined_s: list[tuple[int, int]] = []
    k = 0
    while k < len(chars):
        if chars[k] == "-" and joined_c and _LETTER.fullmatch(joined_c[-1]):
            j = k + 1
            while j < len(chars) and chars[j] == " ":
                j += 1
            newline = j < len(chars) and chars[j] == "\n"
            if newline:
                j += 1
                while j < len(chars) and chars[j] == " ":
                    j += 1
            if j < len(chars) and _LETTER.fullmatch(chars[j]) and (newline or j == k + 1):
                k = j
                continue
        joined_c.append(chars[k])
        joined_s.append(spans[k])
        k += 1

    out_c: list[str] = []  # 3. whitespace
    out_s: list[tuple[int, int]] = []
    space: tuple[int, int] | None = None
    for c, s in zip(joined_c, joined_s, strict=True):
        if c.isspace():
            space = space or s
            continue
        if space is not None and out_c and c not in _NO_SPACE_BEFORE:
            out_c.append(" ")
            out_s.append(space)
        space = None
        out_c.append(c)
        out_s.append(s)
    return _Form("".join(out_c), tuple(out_s))


def matching_form(text: str) -> str:
    """The form in which quotes and passages are compared (see the module docstring)."""
    return _form(text).text


def _count_words(form: str) -> int:
    return sum(1 for piece in form.split(" ") if any(c.isalnum() for c in piece))


def _find_on_word_boundaries(quote: str, passage: str) -> int | None:
    """Where ``quote`` occurs in ``passage`` without cutting a word at either end, or None."""
    start = passage.find(quote)
    while start >= 0:
        end = start + len(quote)
        cuts_start = start > 0 and quote[0].isalnum() and passage[start - 1].isalnum()
        cuts_end = end < len(passage) and quote[-1].isalnum() and passage[end].isalnum()
        if not cuts_start and not cuts_end:
            return start
        start = passage.find(quote, start + 1)
    return None


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _tolerated(quoted: str, written: str) -> bool:
    """Whether a quoted word may stand for the passage's word (see the module docstring)."""
    if _strip_accents(quoted) == _strip_accents(written):
        return True
    if len(written) < 4 or any(c.isdigit() for c in quoted + written):
        return False
    return Levenshtein.distance(quoted, written) <= (2 if len(written) >= 8 else 1)


@dataclass(frozen=True)
class _WordRun:
    """Where the quote's words best follow the passage's, word for word."""

    start: int  # index of the passage's first word
    different: tuple[int, ...]  # indexes, in the quote, of the words that differ
    accepted: bool  # no differing word, or one that _tolerated


def _word_run(quoted: list[str], words: list[str], starts: list[int], near: int) -> _WordRun | None:
    """The run of passage ``words`` that the ``quoted`` words best follow, or None if too short.

    Accepted runs come first, then runs with fewer differing words, then the run closest to
    ``near`` (a matching-form offset; ``starts`` holds each passage word's offset).
    """
    best: tuple[tuple[int, int, int], _WordRun] | None = None
    for first in range(len(words) - len(quoted) + 1):
        cap = len(quoted) if best is None else best[0][1]
        different: list[int] = []
        for index, word in enumerate(quoted):
            if word != words[first + index]:
                different.append(index)
                if len(different) > max(cap, 1):
                    break
        accepted = not different or (
            len(different) == 1 and _tolerated(quoted[different[0]], words[first + different[0]])
        )
        rank = (0 if accepted else 1, len(different), abs(starts[first] - near))
        if best is None or rank < best[0]:
            best = (rank, _WordRun(first, tuple(different), accepted))
    return best[1] if best else None


def _shown(text: str) -> str:
    """A piece of text as quoted in a reason: normalised, on one line."""
    return " ".join(normalize_text(text).split())


def _percent(value: float) -> str:
    """A percentage in French form: one decimal at most, decimal comma."""
    text = f"{value:.1f}".replace(".", ",")
    return text.removesuffix(",0")


def _not_found(score: float, detail: str = "") -> QuoteCheck:
    # Rounded down: a score that failed the threshold is never shown as reaching it.
    reason = f"introuvable dans le passage (meilleure correspondance : {math.floor(score)} %)"
    return QuoteCheck(ok=False, score=score, reason=reason + detail)


def verify_quote(quote: str, passage: str) -> QuoteCheck:
    """Check that ``quote`` is found in ``passage`` (rules in the module docstring)."""
    q = _form(quote)
    if _count_words(q.text) < MIN_QUOTE_WORDS:
        return QuoteCheck(ok=False, score=0.0, reason="citation trop courte : au moins trois mots")
    p = _form(passage)
    found = _find_on_word_boundaries(q.text, p.text)
    if found is not None:
        start, end = p.original(found, found + len(q.text))
        return QuoteCheck(True, 100.0, "retrouvée telle quelle dans le passage", start, end)
    if _ELLIPSIS.search(quote):
        return QuoteCheck(ok=False, score=0.0, reason="une citation doit être continue : pas de coupure « … »")

    alignment = fuzz.partial_ratio_alignment(q.text, p.text)
    if alignment is None or not p.text:
        return _not_found(0.0)
    score = alignment.score
    if score < QUOTE_MATCH_THRESHOLD:
        return _not_found(score)
    span = alignment.dest_end - alignment.dest_start
    if abs(span - len(q.text)) > SPAN_LENGTH_TOLERANCE * len(q.text):
        return _not_found(score, " : seule une partie de la citation y figure")
    quoted = list(_WORD.finditer(q.text))
    written = list(_WORD.finditer(p.text))
    run = _word_run(
        [m.group() for m in quoted], [m.group() for m in written], [m.start() for m in written], alignment.dest_start
    )
    if run is None:
        return _not_found(score, " : la citation est plus longue que le passage")

    def pair(index: int) -> str:
        """The differing word of the quote at ``index``, and the passage's word there."""
        mine, theirs = quoted[index], written[run.start + index]
        q_start, q_end = q.original(mine.start(), mine.end())
        p_start, p_end = p.original(theirs.start(), theirs.end())
        return (
            f"le passage porte « {_shown(passage[p_start:p_end])} » "
            f"là où la citation porte « {_shown(quote[q_start:q_end])} »"
        )

    if not run.accepted:
        if len(run.different) == 1:
            return _not_found(score, f" : {pair(run.different[0])}")
        return _not_found(
            score,
            f" : des mots diffèrent, manquent ou sont ajoutés (d'abord, {pair(run.different[0])}) ; "
            "une citation reprend un seul extrait, mot pour mot",
        )
    start, end = p.original(written[run.start].start(), written[run.start + len(quoted) - 1].end())
    detail = pair(run.different[0]) if run.different else "seules la ponctuation ou la typographie diffèrent"
    reason = (
        f"retrouvée à {_percent(max(0.1, 100.0 - score))} % près "
        f"(correspondance : {_percent(min(score, 99.9))} %) ; {detail}"
    )
    return QuoteCheck(True, score, reason, start, end)


def verify_citations(cited: list[tuple[str, str]], passages: dict[str, Chunk]) -> list[Citation]:
    """Check each ``(chunk_id, quote)`` against the passages given to the model.

    One citation out per citation in, in the same order, duplicates kept: a citation is
    never dropped. A chunk id that was not among ``passages`` is rejected, whatever its
    quote says.
    """
    citations: list[Citation] = []
    for chunk_id, quote in cited:
        chunk = passages.get(chunk_id)
        if chunk is None:
            citations.append(
                Citation(
                    chunk_id=chunk_id,
                    file=UNKNOWN,
                    page=None,
                    locator=UNKNOWN,
                    quote=quote,
                    verified=False,
                    verification=f"passage inconnu : « {chunk_id} » ne fait pas partie des passages fournis",
                )
            )
            continue
        check = verify_quote(quote, chunk.text)
        citations.append(
            Citation(
                chunk_id=chunk_id,
                file=chunk.file,
                page=chunk.page_start,
                locator=chunk.locator,
                quote=quote,
                verified=check.ok,
                verification=check.reason,
                ocr=chunk.ocr,
            )
        )
    return citations


def errors_for_retry(citations: list[Citation]) -> list[str]:
    """One French line per failed citation, numbered from 1 in the list's order, for the model."""
    return [
        f"Citation n°{number} (passage {citation.chunk_id}) : {citation.verification}"
        for number, citation in enumerate(citations, start=1)
        if not citation.verified
    ]
