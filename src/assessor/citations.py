"""Citations are verified, never trusted: each quote must be the words of the passage it cites.

A language model cites a retrieved passage by its chunk id and a verbatim quote. This
module checks every such citation against the passage text and records why it passed or
failed; a citation is never silently dropped, never rewritten (the quote shown is the one
the model wrote), and a failed one is reported back to the model (:func:`errors_for_retry`)
so that it can correct itself. A jury signs its decision on what it reads: a quote passes
only when its words, numbers and signs are exactly those of the passage.

Matching form
-------------
Quote and passage are compared as sequences of *tokens* (see :func:`matching_form`): a
token is a word (a run of letters and digits) or a single other character (punctuation,
sign, unit, symbol). Only typography is removed on the way:

- every character goes through the project's :func:`~assessor.ingest.normalize.normalize_text`
  (NFC, ligatures such as « ﬁ » expanded, soft hyphens and zero-width characters removed,
  non-breaking and narrow spaces made plain); « œ » and « æ » are spelt « oe » and « ae »;
- apostrophes (’ ' ʼ ‘ …) become ``'``; dashes and the minus sign (‐ ‑ – — −) become ``-``;
  « … » becomes ``...``;
- quotation marks of every style (« » “ ” „ " ‹ ›), table separators (``|``), bullets
  (• ▪ ◦ …, private-use PDF bullets, and a dash or ``*`` standing alone between spaces, as a
  list's bullets do once a quote joins its lines, unless a number follows) are read as spaces;
- a hyphen right after a letter and before a letter, with only spaces or a line break
  between them, is dropped: « déve-\\nloppement » is « développement », and a compound
  word split across lines (« bien-\\nêtre ») matches whichever way the quote spells it;
- whitespace only separates words: its kind and amount do not count, nor does the space
  French typography puts before ``: ; ! ?`` or inside « 12 % »; spaces, or one line break,
  between a group of one to three digits and a group of three (« 1 200 », « 12 000 000 »)
  are a thousands separator, so « 1 200 » and « 1200 » match (a table separator or a
  quotation mark in between is not: « 296 | 305 » is two numbers).

Case counts, except for the first letter of the quote and of each extract after an
ellipsis: « Le projet » may be quoted « le projet », not « LE PROJET ». Accents count.

Rules
-----
Applied by :func:`verify_quote`:

1. A quote of fewer than :data:`MIN_QUOTE_WORDS` words fails: too short to prove anything.
2. The punctuation ``. , ; :`` (and an ellipsis) opening or closing the quote belongs to the
   quoting, not to the text, and is not compared.
3. A quote whose tokens are a run of the passage's tokens, starting and ending on whole
   words, passes. A word or number cut at either end fails: « n'est pas » inside « n'est
   passé », « entreprise » inside « l'entreprise », « 12 » inside « 12% », « de 1 » inside
   « de 1 200 € »; punctuation may touch the run (« fin.Début », as PDFs sometimes extract
   it). Nor may a quote stop right before the word that completes a negation it opens:
   « ne le permettent » out of « ne le permettent pas », « n'est passé » out of « n'est
   passé qu'en mars » say the opposite of the passage.
4. A quote with an ellipsis inside (``[…]``, ``[...]``, ``(...)``, ``…``, ``...``) that is
   not itself in the passage is split there into extracts; it passes when each extract has
   at least :data:`MIN_EXTRACT_WORDS` words and the extracts are runs of the same passage,
   in the quote's order, without overlap, each obeying rule 3.

Anything else fails, whatever the difference: a word, a number, a unit, a sign, an accent,
a case inside the quote, a word added or missing, a punctuation mark inside the quote. The
reason names the difference (:func:`verify_quote` tells how): the jury sees it, and the
model is asked to correct it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from assessor.chunking import Chunk
from assessor.ingest.normalize import normalize_text
from assessor.results import Citation

MIN_QUOTE_WORDS = 3
"""A quote must have at least this many words (whitespace-separated, with a letter or digit)."""

MIN_EXTRACT_WORDS = 2
"""Each extract of a quote cut by an ellipsis must have at least this many words: one word
found somewhere proves nothing, and « vente […] hausse » would otherwise pass almost anywhere."""

MAX_NAMED_DIFFERENCES = 3
"""A failed quote's reason names at most this many differences, then counts the others."""

UNKNOWN = "?"
"""File and locator of a citation whose passage id was not among the retrieved passages."""

# What quotation marks and table separators are read as: whitespace that is never a thousands
# separator (« 296 | 305 » is two numbers, « 1 200 » one).
_CELL = "\t"
_MATCH_MAP: dict[str, str] = {
    **dict.fromkeys("'’ʼʻ‘‛′`´＇", "'"),
    **dict.fromkeys('«»“”„‟"″‹›', _CELL),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("|¦│", _CELL),
    **dict.fromkeys("•◦▪▫●○■□▸►▶➢➤✓✔❖⁃", " "),
    **dict.fromkeys("\u200c\u200d\u2060", ""),
    "…": "...",
    "œ": "oe",
    "æ": "ae",
}
_CAPITAL_LIGATURES = {"Œ": "O", "Æ": "A"}
_BULLETS = frozenset("-*")
_EDGE_PUNCTUATION = frozenset(".,;:")
# Words that complete « ne » / « n' »: a quote may not stop right before one (see _cut_negation).
_NEGATION_ENDS = frozenset(
    {"pas", "plus", "jamais", "point", "guère", "rien", "personne", "aucun", "aucune", "nul", "nulle", "ni"}
    | {"que", "qu"}  # the restriction « ne … que »: « n'est passé qu'en mars »
)
_OPENS = frozenset(".,;:!?([{")  # may touch a quote's first word in the passage
_CLOSES = frozenset(".,;:!?)]}([")  # may touch its last word
_ELLIPSIS = re.compile(r"\[\s*(?:…|\.\s*\.\s*\.)\s*\]|\(\s*(?:…|\.\s*\.\s*\.)\s*\)|…|\.\s*\.\s*\.")
_LETTER = re.compile(r"[^\W\d_]")  # as in normalize_text
# Costs in an alignment (see _alignment): a word one side has and the other not, or a substitution;
# opening such a run of words; a word in common, a gain worth leaving out a few words; and a
# token in common that does not start a word (« 7 » of « +7 »), worth much less.
_WORD = 4
_OPEN = 2 * _WORD
_MATCH_WORD = -4 * _WORD
_MATCH_OTHER = -_WORD
_WHOLE_PASSAGE_CELLS = 6_000  # a quote is aligned with the whole passage up to this size (tokens x tokens)
_NAME = "« […] »"
_TYPOGRAPHY = (
    "retrouvée mot pour mot dans le passage ; seule la typographie diffère "
    "(espaces, apostrophes, guillemets, tirets, césures, majuscule initiale ou ponctuation finale)"
)
_ONE_PASSAGE = "une citation doit provenir d'un seul passage"


@dataclass(frozen=True)
class QuoteCheck:
    """The outcome of checking one quote against one passage.

    ``spans`` are the offsets into the passage as given (not its matching form) of the text
    the quote was found at: one span, or one per extract of a quote cut by an ellipsis; none
    when the quote failed. ``start`` and ``end`` are where the first span starts and the
    last one ends.
    """

    ok: bool
    reason: str
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def start(self) -> int | None:
        return self.spans[0][0] if self.spans else None

    @property
    def end(self) -> int | None:
        return self.spans[-1][1] if self.spans else None


@dataclass(frozen=True)
class _Token:
    """A word or a single other character of the matching form, with its place in the original text."""

    text: str
    start: int
    end: int
    word: bool
    gap: bool  # whitespace before it
    glue: bool = False  # a group of three digits continuing the number before it (« 200 » of « 1 200 »)


@lru_cache(maxsize=4096)
def _cluster_form(cluster: str) -> str:
    """A character (with its combining marks) through the project's normalize_text.

    It is framed by two NUL characters, which neither compose with an accent nor count as
    spaces, so that normalize_text's stripping of line ends and collapsing of spaces leave
    a lone space or line break in place.
    """
    return normalize_text(f"\x00{cluster}\x00")[1:-1]


def _characters(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Character by character typography (see the module docstring), with each one's span in ``text``."""
    # What normalize_text removes (soft hyphens, zero-width characters...) goes first, so that
    # an accent after it composes as it would in the whole text.
    kept = [i for i, c in enumerate(text) if _cluster_form(c)]
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    k, n = 0, len(kept)
    while k < n:
        j = k + 1
        while j < n and unicodedata.combining(text[kept[j]]):
            j += 1
        cluster = "".join(text[i] for i in kept[k:j])
        following = text[kept[j]] if j < n else ""
        for c in _cluster_form(cluster):
            if c in _CAPITAL_LIGATURES:  # « Œuvre » is « Oeuvre », « ŒUVRE » is « OEUVRE »
                mapped = _CAPITAL_LIGATURES[c] + ("E" if following.isupper() else "e")
            elif unicodedata.category(c) == "Co":  # private-use characters: PDF bullets
                mapped = " "
            else:
                mapped = _MATCH_MAP.get(c, c)
            for m in mapped:
                chars.append(" " if m.isspace() and m not in ("\n", _CELL) else m)
                spans.append((kept[k], kept[j - 1] + 1))
        k = j
    return chars, spans


def _joined(chars: list[str], spans: list[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    """Hyphens between letters dropped (with the spaces or line break after them), bullets blanked."""
    out_c: list[str] = []
    out_s: list[tuple[int, int]] = []
    line_start = True  # nothing but spaces since the last line break
    k = 0
    while k < len(chars):
        c = chars[k]
        if c == "-" and out_c and _LETTER.fullmatch(out_c[-1]):
            j = k + 1
            while j < len(chars) and chars[j].isspace():
                j += 1
            if j < len(chars) and _LETTER.fullmatch(chars[j]) and chars[k + 1 : j].count("\n") <= 1:
                k = j
                continue
        if c in _BULLETS and _standalone_bullet(chars, k, line_start or bool(out_c and out_c[-1].isspace())):
            c = " "
        line_start = c == "\n" or (line_start and c == " ")
        out_c.append(c)
        out_s.append(spans[k])
        k += 1
    return out_c, out_s


def _standalone_bullet(chars: list[str], k: int, after_space: bool) -> bool:
    """``chars[k]`` (a dash or ``*``) stands alone between spaces: a list's bullet, also once a quote
    has joined the list's lines with spaces; never a sign, so not when a number follows (« - 4 % »)."""
    if not after_space or (k + 1 < len(chars) and not chars[k + 1].isspace()):
        return False
    j = k + 1
    while j < len(chars) and chars[j] in " \t":
        j += 1
    return j == len(chars) or not chars[j].isdigit()


def _digit_groups(token: _Token, spans: list[tuple[int, int]], at: int) -> list[_Token]:
    """A run of more than three digits as groups of three from the right (« 12000 » is « 12 000 »);
    ``spans[at]`` is the span of the run's first character."""
    text = token.text
    cuts = list(range(len(text) % 3 or 3, len(text), 3))
    pieces = zip([0, *cuts], [*cuts, len(text)], strict=True)
    return [
        _Token(text[a:b], spans[at + a][0], spans[at + b - 1][1], True, token.gap if a == 0 else False, a > 0)
        for a, b in pieces
    ]


@lru_cache(maxsize=512)
def _tokens(text: str) -> tuple[_Token, ...]:
    """The matching form of ``text`` as tokens (see the module docstring)."""
    chars, spans = _joined(*_characters(text))
    tokens: list[_Token] = []
    number = False  # the last token ends a number that a group of three digits after a space may continue
    gap, breaks, cell = False, 0, False  # whitespace before the next token: any, line breaks, a cell separator
    k, n = 0, len(chars)
    while k < n:
        c = chars[k]
        if c.isspace():
            gap, breaks, cell = True, breaks + (c == "\n"), cell or c == _CELL
            k += 1
            continue
        j = k + 1
        if c.isalnum():
            while j < n and chars[j].isalnum():
                j += 1
        token = _Token("".join(chars[k:j]), spans[k][0], spans[j - 1][1], c.isalnum(), gap)
        digits = token.text.isdigit()
        # A number wraps at a line end; a paragraph, a table cell or a quotation mark ends it.
        glue = digits and len(token.text) == 3 and number and gap and breaks <= 1 and not cell
        if glue:
            tokens.append(_Token(token.text, token.start, token.end, True, True, True))
        elif digits and len(token.text) > 3:
            tokens += _digit_groups(token, spans, k)
        else:
            tokens.append(token)
        number = glue or (digits and len(token.text) <= 3)
        gap, breaks, cell = False, 0, False
        k = j
    return tuple(tokens)


def matching_form(text: str) -> str:
    """The form in which quotes and passages are compared (see the module docstring).

    Tokens are written one after the other, with one space between two words and none
    inside a number: « 1 200 » is written « 1200 ».
    """
    out: list[str] = []
    previous_word = False
    for token in _tokens(text):
        if token.word and previous_word and not token.glue:
            out.append(" ")
        out.append(token.text)
        previous_word = token.word
    return "".join(out)


def _count_words(tokens: Sequence[_Token]) -> int:
    """Whitespace-separated words with a letter or digit: « l'équipe » is one word, « 12 % » too."""
    count, counted = 0, False
    for index, token in enumerate(tokens):
        if index == 0 or token.gap:
            counted = False
        if token.word and not counted:
            count, counted = count + 1, True
    return count


def _fold_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _same(quoted: _Token, written: _Token, *, first: bool) -> bool:
    """Whether a quote's token is the passage's; ``first`` for the first word of the quote or extract."""
    if quoted.text == written.text:
        return True
    return first and quoted.word and written.word and _fold_first(quoted.text) == _fold_first(written.text)


def _first_word(tokens: Sequence[_Token]) -> int:
    """The index of the first word, whose first letter's case does not count."""
    return next((i for i, t in enumerate(tokens) if t.word), 0)


def _runs_equal(quoted: Sequence[_Token], written: Sequence[_Token]) -> bool:
    first = _first_word(quoted)
    return len(quoted) == len(written) and all(
        _same(q, w, first=i == first) for i, (q, w) in enumerate(zip(quoted, written, strict=True))
    )


def _joined_before(written: Sequence[_Token], index: int) -> bool:
    """Whether ``written[index]`` continues the word or number before it: no quote starts there."""
    token = written[index]
    return token.glue or (not token.gap and written[index - 1].text not in _OPENS)


def _joined_after(written: Sequence[_Token], index: int) -> bool:
    """Whether ``written[index]`` continues the word or number before it: no quote ends just before."""
    token = written[index]
    return token.glue or (not token.gap and token.text not in _CLOSES)


def _bounded(written: Sequence[_Token], start: int, end: int) -> bool:
    """Whether ``written[start:end]`` neither starts nor ends inside a word or a number.

    Punctuation may touch it (« (voir l'annexe) », « fin.Début » as PDFs extract it), but
    not a letter, a digit, an apostrophe or a sign: « entreprise » cuts « l'entreprise »,
    « 12 » cuts « 12% », « 2021 » cuts « 2019-2021 », « de 1 » cuts « de 1 200 € ».
    """
    if start > 0 and _joined_before(written, start):
        return False
    return end >= len(written) or not _joined_after(written, end)


def _find(quoted: Sequence[_Token], written: Sequence[_Token], after: int = 0) -> int | None:
    """The index of the first run of ``written`` tokens, from ``after`` on, that ``quoted`` is."""
    m = len(quoted)
    if not m:
        return None
    first = _first_word(quoted)
    texts = [t.text for t in quoted]
    for i in range(after, len(written) - m + 1):
        if not _same(quoted[first], written[i + first], first=True):
            continue
        if (
            all(texts[k] == written[i + k].text for k in range(m) if k != first)
            and _bounded(written, i, i + m)
            and not _cut_negation(quoted, written, i + m)
        ):
            return i
    return None


def _cut_negation(quoted: Sequence[_Token], written: Sequence[_Token], end: int) -> bool:
    """Whether the word after the quote (``written[end]``) completes a negation the quote leaves
    open: « ne le permettent » out of « ne le permettent pas » says the opposite."""
    after = written[end] if end < len(written) else None
    if after is None or not after.word or after.text.lower() not in _NEGATION_ENDS:
        return False
    open_negation = False
    for index, token in enumerate(quoted):
        text = token.text.lower()
        if text == "ne" or (text == "n" and index + 1 < len(quoted) and quoted[index + 1].text == "'"):
            open_negation = True
        elif text in _NEGATION_ENDS:
            open_negation = False
    return open_negation


def _stripped(tokens: Sequence[_Token]) -> tuple[_Token, ...]:
    """Tokens without the punctuation that opens or closes the quote (rule 2)."""
    start, end = 0, len(tokens)
    while start < end and tokens[start].text in _EDGE_PUNCTUATION:
        start += 1
    while end > start and tokens[end - 1].text in _EDGE_PUNCTUATION:
        end -= 1
    return tuple(tokens[start:end])


def _plain(text: str) -> str:
    return " ".join(normalize_text(text).split())


def _shown(text: str, limit: int = 80) -> str:
    """A piece of text as quoted in a reason: normalised, on one line, long ones shortened in the middle."""
    text = _plain(text)
    if len(text) <= limit:
        return text
    head = text[: limit // 2].rsplit(" ", 1)[0]
    tail = text[-(limit // 3) :].split(" ", 1)[-1]
    return f"{head} […] {tail}"


def _text_of(text: str, tokens: Sequence[_Token]) -> str:
    return _shown(text[tokens[0].start : tokens[-1].end]) if tokens else ""


# --- why a quote failed ------------------------------------------------------------------


def _beyond(quoted: Sequence[_Token], written: Sequence[_Token], quote: str) -> tuple[str, int] | None:
    """For a quote that starts at the passage's end or ends at its start: the reason, and how
    many words of the quote the passage holds there; None for any other quote."""
    m = len(quoted)
    ends = [written]
    trimmed = len(written)
    while trimmed and not written[trimmed - 1].word:
        trimmed -= 1
    if trimmed < len(written):
        ends.append(written[:trimmed])  # the passage's closing punctuation may not be quoted
    for tail in ends:
        for k in range(min(m - 1, len(tail)), 0, -1):
            head = quoted[:k]
            if _count_words(head) >= MIN_EXTRACT_WORDS and _runs_equal(head, tail[len(tail) - k :]):
                return (
                    f"la citation déborde de ce passage : son début (« {_text_of(quote, head)} ») en est la fin, "
                    f"la suite (« {_text_of(quote, quoted[k:])} ») n'y figure pas ; {_ONE_PASSAGE}",
                    sum(t.word for t in head),
                )
    for k in range(min(m - 1, len(written)), 0, -1):
        rest = quoted[m - k :]
        if _count_words(rest) >= MIN_EXTRACT_WORDS and _runs_equal(rest, written[:k]):
            return (
                f"la citation déborde de ce passage : sa fin (« {_text_of(quote, rest)} ») en est le début, "
                f"ce qui précède (« {_text_of(quote, quoted[: m - k])} ») n'y figure pas ; {_ONE_PASSAGE}",
                sum(t.word for t in rest),
            )
    return None


def _key(token: _Token) -> str:
    return token.text.lower()  # a case difference is named, not taken for an invented quote


def _starts_word(tokens: Sequence[_Token], index: int) -> bool:
    return index == 0 or not _joined_before(tokens, index)


def _cost(quoted: Sequence[_Token], written: _Token, index: int, *, first: bool) -> int:
    """The cost of pairing ``quoted[index]`` with a passage token in an alignment."""
    token = quoted[index]
    if _same(token, written, first=first):
        return _MATCH_WORD if token.word and _starts_word(quoted, index) else _MATCH_OTHER
    if token.word != written.word:
        return 3 * _WORD  # a word never stands for a punctuation mark
    a, b = token.text.lower(), written.text.lower()
    return _WORD if a[0] == b[0] or a[-2:] == b[-2:] else _WORD + 1  # of two places, the likelier word


def _one_side(tokens: Sequence[_Token], index: int) -> int:
    """The cost of a token only one side has: a word or a group of digits, or less for what
    continues a word (the « ' » and « équipe » of « d'équipe », the « - » of « 2019-2021 »)."""
    token = tokens[index]
    return _WORD if index == 0 or token.gap or token.glue else 1


def _opening(tokens: Sequence[_Token], index: int) -> int:
    """The cost of opening, at ``tokens[index]``, a run only one side has: more inside a word,
    so that « d'équipe d'affaires » quoted « d'affaires » leaves out « d'équipe », not « équipe d' »."""
    return _OPEN + (0 if _starts_word(tokens, index) else 1)


def _alignment(quoted: Sequence[_Token], written: Sequence[_Token]) -> list[tuple[int | None, int | None]]:
    """The cheapest edits turning ``quoted`` into a run of ``written``: pairs (quote index, passage index).

    A pair with a None is a token of one side only; a pair of two indexes is the same token,
    or a substitution. Passage tokens before and after the run are free. Runs of tokens one
    side only has cost an opening, then each token (affine gaps), and tokens in common are a
    gain, so that the alignment reads as the fewest, most natural differences.
    """
    m, w = len(quoted), len(written)
    first = _first_word(quoted)
    infinite = 1 << 40
    added = [_one_side(quoted, i) for i in range(m)]
    open_added = [_opening(quoted, i) for i in range(m)]
    left_out = [_one_side(written, j) for j in range(w)]
    open_left_out = [_opening(written, j) for j in range(w)]
    # Ending with a pair, with a quote token only (added), with a passage token only (left out).
    pair = [[0] * (w + 1)] + [[infinite] * (w + 1) for _ in range(m)]
    add = [[infinite] * (w + 1) for _ in range(m + 1)]
    out = [[infinite] * (w + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(w + 1):
            add[i][j] = (
                min(pair[i - 1][j] + open_added[i - 1], add[i - 1][j], out[i - 1][j] + open_added[i - 1]) + added[i - 1]
            )
            if j:
                step = _cost(quoted, written[j - 1], i - 1, first=i - 1 == first)
                pair[i][j] = min(pair[i - 1][j - 1], add[i - 1][j - 1], out[i - 1][j - 1]) + step
                out[i][j] = (
                    min(pair[i][j - 1] + open_left_out[j - 1], out[i][j - 1], add[i][j - 1] + open_left_out[j - 1])
                    + left_out[j - 1]
                )
    best = min(min(pair[m]), min(add[m]))
    j = max(x for x in range(w + 1) if min(pair[m][x], add[m][x]) == best)  # a word cut at the end is a substitution
    state = "pair" if pair[m][j] == best else "add"
    i = m
    pairs: list[tuple[int | None, int | None]] = []
    while i > 0:
        if state == "pair":
            pairs.append((i - 1, j - 1))
            before = pair[i][j] - _cost(quoted, written[j - 1], i - 1, first=i - 1 == first)
            i, j = i - 1, j - 1
            state = "pair" if pair[i][j] == before else "add" if add[i][j] == before else "out"
        elif state == "add":
            pairs.append((i - 1, None))
            before = add[i][j] - added[i - 1]
            opened = before - open_added[i - 1]
            i -= 1
            state = "add" if add[i][j] == before else "pair" if pair[i][j] == opened else "out"
        else:
            pairs.append((None, j - 1))
            before = out[i][j] - left_out[j - 1]
            opened = before - open_left_out[j - 1]
            j -= 1
            state = "out" if out[i][j] == before else "pair" if pair[i][j] == opened else "add"
    return pairs[::-1]


def _word_around(tokens: Sequence[_Token], index: int) -> tuple[int, int]:
    """The first and last token index of the whitespace-separated word holding ``tokens[index]``."""
    start, end = index, index
    while start > 0 and not tokens[start].gap:
        start -= 1
    while end + 1 < len(tokens) and not tokens[end + 1].gap:
        end += 1
    return start, end


def _whole_word(written: Sequence[_Token], lo: int, hi: int) -> tuple[int, int]:
    """``written[lo : hi + 1]`` widened to whole words, the punctuation around them left out (see :func:`_bounded`)."""
    while lo > 0 and _joined_before(written, lo):
        lo -= 1
    while hi + 1 < len(written) and _joined_after(written, hi + 1):
        hi += 1
    return lo, hi


def _differences(
    pairs: list[tuple[int | None, int | None]],
    same: list[bool],
    quoted: Sequence[_Token],
    written: Sequence[_Token],
    quote: str,
    passage: str,
) -> list[str]:
    """Each difference of an alignment (see :func:`_alignment`), named in French."""
    found: list[str] = []
    punctuation = [equal and q is not None and not quoted[q].word for (q, _), equal in zip(pairs, same, strict=True)]
    k = 0
    while k < len(pairs):
        if same[k]:
            k += 1
            continue
        end = k
        while True:  # one difference, even across punctuation that happens to match inside it
            while end < len(pairs) and not same[end]:
                end += 1
            gap = end
            while gap < len(pairs) and punctuation[gap]:
                gap += 1
            if not end < gap < len(pairs) or same[gap]:
                break
            end = gap
        mine = [q for q, _ in pairs[k:end] if q is not None]
        ids = [w for _, w in pairs[k:end] if w is not None]
        before = next((w for _, w in reversed(pairs[:k]) if w is not None), None)
        after = next((w for _, w in pairs[end:] if w is not None), None)
        if mine and ids:  # a substitution is shown as whole words: « 2023 », « d'équipe », « 17/05/2025 »
            lo, hi = _whole_word(written, ids[0], ids[-1])
            ids = list(range(lo, hi + 1))
            lo, hi = _whole_word(quoted, mine[0], mine[-1])
            mine = list(range(lo, hi + 1))
        theirs = [written[w] for w in ids]
        found.append(_named([quoted[q] for q in mine], theirs, written, before, after, quote, passage))
        k = end
    return found


def _named(
    mine: list[_Token],
    theirs: list[_Token],
    written: Sequence[_Token],
    before: int | None,
    after: int | None,
    quote: str,
    passage: str,
) -> str:
    """One difference in French: a substitution, an addition, an omission or a word cut."""
    if mine and theirs:
        if len(mine) == len(theirs) == 1 and mine[0].word and theirs[0].word:
            cut, whole = mine[0].text.lower(), theirs[0].text.lower()
            if len(cut) < len(whole) and (
                (before is None and whole.endswith(cut)) or (after is None and whole.startswith(cut))
            ):
                return (
                    f"la citation coupe le mot « {_text_of(passage, theirs)} » (elle porte « {_text_of(quote, mine)} »)"
                )
        shown_mine, shown_theirs = _text_of(quote, mine), _text_of(passage, theirs)
        if not any(t.word for t in mine + theirs):  # a sign or a unit: show it with the words around it
            lo = _word_around(written, before)[0] if before is not None else None
            hi = _word_around(written, after)[1] if after is not None else None
            context_before = passage[written[lo].start : theirs[0].start] if lo is not None else ""
            context_after = passage[theirs[-1].end : written[hi].end] if hi is not None else ""
            shown_mine = _shown(context_before + quote[mine[0].start : mine[-1].end] + context_after)
            shown_theirs = _shown(context_before + passage[theirs[0].start : theirs[-1].end] + context_after)
        case = "la casse diffère : " if [t.text.lower() for t in mine] == [t.text.lower() for t in theirs] else ""
        return f"{case}le passage porte « {shown_theirs} » là où la citation porte « {shown_mine} »"
    where = ""
    if before is not None:
        where = f" après « {_text_of(passage, written[_word_around(written, before)[0] : before + 1])} »"
    elif after is not None:
        where = f" avant « {_text_of(passage, written[after : _word_around(written, after)[1] + 1])} »"
    if mine:
        return f"la citation ajoute « {_text_of(quote, mine)} »{where}"
    return f"la citation omet « {_text_of(passage, theirs)} »{where}"


def _cut_words(
    pairs: list[tuple[int | None, int | None]],
    quoted: Sequence[_Token],
    written: Sequence[_Token],
    quote: str,
    passage: str,
) -> list[str]:
    """The words of the passage that a quote with the passage's tokens cuts at either end."""
    ids = [w for _, w in pairs if w is not None]
    ends = []
    if not _bounded(written, ids[0], len(written)):
        ends.append((ids[0], quoted[: _word_around(quoted, 0)[1] + 1]))
    if not _bounded(written, 0, ids[-1] + 1):
        ends.append((ids[-1], quoted[_word_around(quoted, len(quoted) - 1)[0] :]))
    found = []
    for at, mine in ends:
        lo, hi = _whole_word(written, at, at)
        found.append(
            f"la citation coupe le mot « {_text_of(passage, written[lo : hi + 1])} » "
            f"(elle porte « {_text_of(quote, mine)} »)"
        )
    if _cut_negation(quoted, written, ids[-1] + 1):
        lo, hi = _whole_word(written, ids[-1] + 1, ids[-1] + 1)
        found.append(
            f"la citation s'arrête avant « {_text_of(passage, written[lo : hi + 1])} », "
            "qui complète la négation « ne … » du passage"
        )
    return found or ["introuvable telle quelle dans le passage"]


def _diagnosis(quoted: Sequence[_Token], written: Sequence[_Token], quote: str, passage: str) -> str:
    """Why ``quoted`` is not a run of ``written`` (see :func:`verify_quote`)."""
    matcher = SequenceMatcher(None, [_key(t) for t in quoted], [_key(t) for t in written], autojunk=False)
    a, b, size = matcher.find_longest_match(0, len(quoted), 0, len(written))
    nothing = "introuvable dans le passage : aucun extrait de la citation n'y figure"
    if not any(t.word for t in quoted[a : a + size]):
        return nothing
    window: Sequence[_Token] = written
    if len(quoted) * len(written) > _WHOLE_PASSAGE_CELLS:  # the passage around the longest run in common
        slack = len(quoted) + 8  # room for words the quote leaves out
        window = written[max(0, b - a - slack) : b - a + len(quoted) + slack]
    pairs = _alignment(quoted, window)
    first = _first_word(quoted)
    same = [q is not None and w is not None and _same(quoted[q], window[w], first=q == first) for q, w in pairs]
    kept = sum(
        1 for q, w in pairs if q is not None and w is not None and quoted[q].word and _key(quoted[q]) == _key(window[w])
    )
    beyond = _beyond(quoted, written, quote)
    if beyond and kept <= beyond[1]:  # nothing else of the quote is in the passage
        return beyond[0]
    if 2 * kept < sum(t.word for t in quoted):
        if _count_words(quoted[a : a + size]) < MIN_EXTRACT_WORDS:
            return nothing
        return "introuvable dans le passage : moins de la moitié des mots de la citation s'y suivent ainsi"
    named = _differences(pairs, same, quoted, window, quote, passage) or _cut_words(
        pairs, quoted, window, quote, passage
    )
    shown = " ; ".join(named[:MAX_NAMED_DIFFERENCES])
    more = len(named) - MAX_NAMED_DIFFERENCES
    if more > 0:
        shown += f" ; et {more} autre{'s' if more > 1 else ''} différence{'s' if more > 1 else ''}"
    return f"citation inexacte : {shown}"


# --- verification ------------------------------------------------------------------------


def _extracts(quote: str) -> list[tuple[str, tuple[_Token, ...]]]:
    """The quote cut at each ellipsis: each extract's text and tokens, empty ones left out."""
    pieces = [p for p in _ELLIPSIS.split(quote) if p.strip()]
    return [(p, t) for p in pieces if (t := _stripped(_tokens(p))) and any(x.word for x in t)]


def verify_quote(quote: str, passage: str) -> QuoteCheck:
    """Check that ``quote`` is the words of ``passage`` (rules in the module docstring).

    The reason of a pass says how the quote was found: « retrouvée telle quelle », found
    word for word with only typography differing, or in several extracts. The reason of a
    failure names the difference: the substituted, added or missing words (up to
    :data:`MAX_NAMED_DIFFERENCES`), a word cut at either end, extracts out of order or
    overlapping, a quote running beyond the passage, or nothing of the quote found.
    """
    whole = _stripped(_tokens(quote))
    if _count_words(whole) < MIN_QUOTE_WORDS:
        return QuoteCheck(ok=False, reason="citation trop courte : au moins trois mots")
    written = _tokens(passage)
    found = _find(whole, written)
    extracts = _extracts(quote)
    if found is None and len(extracts) == 1 and extracts[0][0] != quote:  # an ellipsis opens or closes it
        quote, whole = extracts[0]
        found = _find(whole, written)
    if found is not None:
        span = (written[found].start, written[found + len(whole) - 1].end)
        plain = "retrouvée telle quelle dans le passage"
        return QuoteCheck(True, plain if _plain(quote) in _plain(passage) else _TYPOGRAPHY, (span,))
    if len(extracts) > 1:
        check = _verify_extracts(extracts, written, passage)
        if check.ok or not _has_ellipsis(written):
            return check
        # The passage has ellipses or dot leaders of its own: the quote's may be the candidate's text.
    return QuoteCheck(ok=False, reason=_diagnosis(whole, written, quote, passage))


def _has_ellipsis(written: Sequence[_Token]) -> bool:
    return any(written[i].text == written[i + 1].text == written[i + 2].text == "." for i in range(len(written) - 2))


def _verify_extracts(
    extracts: list[tuple[str, tuple[_Token, ...]]], written: Sequence[_Token], passage: str
) -> QuoteCheck:
    """Rule 4: extracts joined by ellipses, each a run of the passage, in order, without overlap."""
    for text, tokens in extracts:
        if _count_words(tokens) < MIN_EXTRACT_WORDS:
            return QuoteCheck(
                ok=False,
                reason=f"extrait trop court : « {_shown(text)} » ; chaque extrait relié par {_NAME} "
                f"doit compter au moins {MIN_EXTRACT_WORDS} mots",
            )
    anywhere = [_find(tokens, written) for _, tokens in extracts]
    for number, ((text, tokens), at) in enumerate(zip(extracts, anywhere, strict=True), start=1):
        if at is None:
            reason = _diagnosis(tokens, written, text, passage)
            return QuoteCheck(
                ok=False, reason=f"extrait {number} sur {len(extracts)} (« {_shown(text, 40)} ») : {reason}"
            )
    spans: list[tuple[int, int]] = []
    after, previous = 0, 0
    for number, (_, tokens) in enumerate(extracts, start=1):
        at = _find(tokens, written, after)
        if at is None:
            first = anywhere[number - 1]
            assert first is not None
            problem = "pas dans cet ordre" if first < previous else "mais ils se chevauchent"
            return QuoteCheck(
                ok=False,
                reason=f"les {len(extracts)} extraits reliés par {_NAME} figurent dans le passage, {problem} ; "
                "une citation coupée reprend des extraits dans l'ordre du texte, sans chevauchement",
            )
        spans.append((written[at].start, written[at + len(tokens) - 1].end))
        previous, after = at, at + len(tokens)
    return QuoteCheck(True, f"retrouvée en {len(extracts)} extraits, dans l'ordre, reliés par {_NAME}", tuple(spans))


def verify_citations(cited: list[tuple[str, str]], passages: dict[str, Chunk]) -> list[Citation]:
    """Check each ``(chunk_id, quote)`` against the passages given to the model.

    One citation out per citation in, in the same order, duplicates kept: a citation is
    never dropped, and its quote is kept as the model wrote it. A chunk id that was not
    among ``passages`` is rejected, whatever its quote says.
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
                page_end=chunk.page_end,
                locator=chunk.locator,
                quote=quote,
                verified=check.ok,
                verification=check.reason,
                ocr=chunk.ocr,
                headings=chunk.heading_path,
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
