"""Turn a quote you type into a label entry that stores no text: page, offsets and hash.

    python evals/locate.py FILE PAGE "quote" [--paraphrase "ce que le passage montre"]
    python evals/locate.py FILE PAGE "début du passage ... fin du passage"
    python evals/locate.py FILE PAGE --lines 0 1 --kind running
    python evals/locate.py FILE PAGE --show

The quote is searched in the canonical text of the page (``evals/retrieval_labels.py``),
ignoring differences of whitespace and of apostrophes (’ or '). « ... » (or « … ») in the
quote stands for any text in between, so a long excerpt can be typed by its first and last
words; the entry then covers the whole span. ``--lines`` prints furniture entries for whole
lines of the page; ``--show`` prints the page's lines with their numbers, to choose them.

The printed YAML goes under a criterion's ``evidence`` (or a dossier's ``furniture``) in
``evals/datasets/realdata_retrieval.yaml``. Nothing of the document is printed except with
``--show``: keep what you read out of the repository.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_labels import FurnitureKind, canonical_pages, collapse, digest

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})


class NotFound(ValueError):
    pass


def _flat(text: str) -> tuple[str, list[int]]:
    """The text with whitespace runs made one space and apostrophes unified, and the original
    offset of each of its characters."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch.translate(_APOSTROPHES))
        index.append(i)
    return "".join(out), index


def locate(page_text: str, quote: str) -> tuple[int, int]:
    """[start, end) of the quote in the page text. « ... » in the quote matches any text."""
    flat, index = _flat(page_text)
    parts = [collapse(p).translate(_APOSTROPHES) for p in _ELLIPSIS.split(quote.strip())]
    if not all(parts):
        raise NotFound("« ... » must have text on both sides")
    matches = [m.start() for m in re.finditer(re.escape(parts[0]), flat)]
    if not matches:
        raise NotFound(f"not on this page: « {parts[0][:60]} »")
    if len(matches) > 1:
        raise NotFound(f"« {parts[0][:60]} » occurs {len(matches)} times on this page: type more words")
    start = matches[0]
    end = start + len(parts[0])
    for part in parts[1:]:
        pos = flat.find(part, end)
        if pos < 0:
            raise NotFound(f"not found after the previous part: « {part[:60]} »")
        end = pos + len(part)
    return index[start], index[end - 1] + 1


def excerpt_entry(page: int, page_text: str, quote: str, paraphrase: str) -> dict[str, object]:
    start, end = locate(page_text, quote)
    return {
        "page": page,
        "start": start,
        "end": end,
        "sha256": digest(page_text[start:end]),
        "paraphrase": paraphrase,
    }


def furniture_entry(page: int, page_text: str, line: int, kind: FurnitureKind) -> dict[str, object]:
    lines = page_text.split("\n")
    if not 0 <= line < len(lines):
        raise NotFound(f"page {page} has {len(lines)} lines (0 to {len(lines) - 1})")
    return {"page": page, "line": line, "kind": str(kind), "sha256": digest(lines[line])}


def _flow(entry: dict[str, object]) -> str:
    """The entry as one YAML flow mapping; a string is quoted unless YAML reads it back unchanged."""

    def value(v: object) -> str:
        if isinstance(v, str) and not (re.fullmatch(r"[0-9a-z_]+", v) and yaml.safe_load(v) == v):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return str(v)

    return "{" + ", ".join(f"{k}: {value(v)}" for k, v in entry.items()) + "}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("page", type=int, help="1-based page number")
    parser.add_argument("quote", nargs="?", help="the text to locate (« ... » for any text in between)")
    parser.add_argument("--paraphrase", default="", help="what the excerpt shows, in your own words")
    parser.add_argument("--lines", type=int, nargs="+", help="furniture: line numbers of the page")
    parser.add_argument("--kind", choices=[k.value for k in FurnitureKind], default="running")
    parser.add_argument("--show", action="store_true", help="print the page's numbered lines")
    args = parser.parse_args(argv)
    pages = canonical_pages(args.file)
    if not 1 <= args.page <= len(pages):
        print(f"{args.file} has {len(pages)} pages", file=sys.stderr)
        return 2
    text = pages[args.page - 1]
    try:
        if args.show:
            for number, line in enumerate(text.split("\n")):
                print(f"{number:3d}| {line}")
        elif args.lines:
            for line in args.lines:
                print("- " + _flow(furniture_entry(args.page, text, line, FurnitureKind(args.kind))))
        elif args.quote:
            print("- " + _flow(excerpt_entry(args.page, text, args.quote, args.paraphrase)))
        else:
            parser.error("give a quote, --lines or --show")
    except NotFound as exc:
        print(f"page {args.page}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
