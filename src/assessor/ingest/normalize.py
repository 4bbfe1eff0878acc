"""Text normalisation shared by every loader, and running header/footer removal.

Only changes that never alter wording are made: typographic ligatures and soft hyphens
are expanded or removed, Unicode is composed (NFC), odd spaces become plain spaces, words
hyphenated across a line break are joined, and runs of spaces collapse. Line breaks are
kept: the chunker reads structure from them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# NFKC would also rewrite "²" or "½"; only the presentation forms below are expanded.
_TRANSLATE = str.maketrans(
    {
        "ﬀ": "ff",
        "ﬁ": "fi",
        "ﬂ": "fl",
        "ﬃ": "ffi",
        "ﬄ": "ffl",
        "ﬅ": "st",
        "ﬆ": "st",
        "\u00ad": None,  # soft hyphen
        "\u200b": None,  # zero-width space
        "\ufeff": None,  # byte order mark
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\t": " ",
        "\r": None,
    }
)
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zà-öø-ÿœ])")
_SPACES = re.compile(r" {2,}")
_BLANKS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Normalise one page of text (see the module docstring)."""
    text = unicodedata.normalize("NFC", text.translate(_TRANSLATE))
    text = _HYPHENATED.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n")


_PAGE_NUMBER = re.compile(r"\bpage\s*\d+|^\W*\d{1,4}(?:\s*(?:/|sur|of)\s*\d{1,4})?\W*$|\d+\s*/\s*\d+\s*$", re.I)


def _signature(line: str) -> str:
    """How running lines are recognised: the text itself, except that page numbers
    (« Page 3 / 12 », « 3/12 », « 7 ») do not count, since they change on every page."""
    line = line.strip().casefold()
    return re.sub(r"\d+", "#", line) if _PAGE_NUMBER.search(line) else line


def strip_running_lines(pages: list[str], *, scan: int = 5) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Remove headers and footers repeated at the edges of most pages.

    A line is running when its signature stands among the first or last ``scan`` lines of at
    least half of the pages, and of at least three. Extraction order does not always follow
    the page (a footer may come out first), so both edges are checked for both kinds.
    Returns the new page texts and, per page, the lines removed from the top and the bottom.
    """
    headers: list[list[str]] = [[] for _ in pages]
    footers: list[list[str]] = [[] for _ in pages]
    if len(pages) < 3:
        return pages, headers, footers
    split = [page.split("\n") for page in pages]
    threshold = max(3, (len(pages) + 1) // 2)
    edges = Counter(
        sig for lines in split for sig in {_signature(x) for x in lines[:scan] + lines[-scan:] if x.strip()}
    )
    running = {sig for sig, count in edges.items() if count >= threshold}
    result = []
    for i, lines in enumerate(split):
        start, end = 0, len(lines)
        while start < end and start < scan and (not lines[start].strip() or _signature(lines[start]) in running):
            if lines[start].strip():
                headers[i].append(lines[start])
            start += 1
        while (
            end > start
            and len(lines) - end < scan
            and (not lines[end - 1].strip() or _signature(lines[end - 1]) in running)
        ):
            if lines[end - 1].strip():
                footers[i].insert(0, lines[end - 1])
            end -= 1
        result.append("\n".join(lines[start:end]))
    return result, headers, footers
