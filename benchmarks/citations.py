"""Citation benchmark: quotes copied verbatim are verified, quotes with one word altered never.

    python benchmarks/citations.py [--realdata DIR] [--show N]

1. The four annotated sample dossiers (and the DOCX of manager-b2) go through the real
   pipeline (``assess_dossier`` with an injected chat model and no result cache, so that
   every criterion reaches the model) with three model doubles that answer « acquis »:

   - *verbatim* quotes one to three sentences (three words or more) copied from the passages
     of the prompt it receives;
   - *retyped* quotes them as a model may type them back (hyphenation joined, line breaks
     and odd spaces plain, straight apostrophes and quotation marks, no ligature, first
     letter in lower case);
   - *altered* quotes the same way, each quote with exactly one word changed, cycling through
     a number, a negation (« dans »/« sans », « ne … pas » added or removed), an antonym, a
     unit (% / €), a sign (+ / −), a comparison (≥ / ≤), « mois »/« fois », and, when none of
     these fits the sentence, one letter of its longest word.

2. The real third-party dossiers of DIR (default ../shared/realdata/dossiers), ingested
   with the project's ingestion into a temporary folder: every sentence of every chunk,
   verbatim, retyped and altered as above, checked with ``verify_quote`` directly.

Prints a Markdown table per part: verbatim quotes (n, % verified, goal ≥ 99 %; retyped ones
too), altered quotes (n, % verified, goal 0 %) and, for the pipeline, the criteria that kept
a positive outcome on altered quotes alone (goal 0); then the altered quotes by kind, and the
first N altered quotes that were verified and verbatim or retyped quotes that failed, with
their reasons. About two minutes on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.messages import BaseMessage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from assessor.citations import verify_quote  # noqa: E402
from assessor.dossiers import DossierStore  # noqa: E402
from assessor.library import Library  # noqa: E402
from assessor.llm import ModelSpec  # noqa: E402
from assessor.pipeline import ResultCache, assess_dossier  # noqa: E402
from assessor.results import CriterionResult  # noqa: E402
from assessor.settings import Settings  # noqa: E402
from fakes import FunctionChatModel, answer, passages_in  # noqa: E402

SPEC = ModelSpec("fake", "citations", remote=False)
MAX_QUOTE_CHARS = 300

# --- sentences and alterations ------------------------------------------------------------

# A sentence ends at . ! ? … followed by whitespace, at a blank line, or before a line that
# opens a list item or a table row.
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+|\n\s*\n|\n(?=\s*(?:[•▪●◦\-–*]|\S[^\n]*\|))")
_CUT = re.compile(r"(?<=[^\W\d_]|[,;:)])\s+(?=[^\W\d_])")  # a whitespace a quote may stop at


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, verbatim (line breaks kept), of three words or more (table
    separators and punctuation are not words)."""
    found: list[str] = []
    start = 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end].strip()
        start = match.end() if match else len(text)
        if len(piece) > MAX_QUOTE_CHARS:  # a long one is quoted up to a word boundary
            cuts = [m.start() for m in _CUT.finditer(piece, 0, MAX_QUOTE_CHARS)]
            piece = piece[: cuts[-1]] if cuts else ""
        words = [w for w in piece.replace("|", " ").split() if any(c.isalnum() for c in w)]
        if len(words) >= 3 and re.search(r"[^\W\d_]", piece):
            found.append(piece)
    return found


def retyped(sentence: str) -> str:
    """The sentence as a model may type it back: words hyphenated at a line end joined, line
    breaks and odd spaces made plain, straight apostrophes and quotation marks, ligatures
    expanded, first letter in lower case."""
    text = re.sub(r"(?<=[^\W\d_])-\s*\n\s*(?=[^\W\d_])", "", sentence)
    text = " ".join(text.split()).replace("’", "'").translate(str.maketrans({"«": '"', "»": '"', "ﬁ": "fi", "ﬂ": "fl"}))
    return text[:1].lower() + text[1:]


def _swap(pattern: str, replace: Callable[[re.Match[str]], str]) -> Callable[[str], str | None]:
    def alter(sentence: str) -> str | None:
        match = re.search(pattern, sentence)
        return sentence[: match.start()] + replace(match) + sentence[match.end() :] if match else None

    return alter


def _same_case(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


ANTONYMS = dict(
    pair
    for a, b in [
        ("hausse", "baisse"),
        ("augmentation", "diminution"),
        ("augmenté", "diminué"),
        ("plus", "moins"),
        ("toujours", "jamais"),
        ("avant", "après"),
        ("supérieur", "inférieur"),
        ("supérieure", "inférieure"),
        ("premier", "dernier"),
        ("première", "dernière"),
        ("positif", "négatif"),
        ("positive", "négative"),
        ("facile", "difficile"),
        ("meilleur", "pire"),
        ("gagné", "perdu"),
        ("réussi", "échoué"),
        ("interne", "externe"),
        ("internes", "externes"),
        ("grand", "petit"),
        ("grande", "petite"),
        ("nouveau", "ancien"),
        ("nouvelle", "ancienne"),
        ("nouveaux", "anciens"),
        ("fort", "faible"),
        ("forte", "faible"),
        ("début", "fin"),
        ("bien", "mal"),
        ("accepté", "refusé"),
        ("réalisé", "abandonné"),
        ("réel", "fictif"),
        ("collectif", "individuel"),
        ("seul", "accompagné"),
        ("public", "privé"),
        ("local", "national"),
        ("principal", "secondaire"),
        ("principaux", "secondaires"),
    ]
    for pair in ((a, b), (b, a))
)
_VERBS = r"est|sont|a|ont|peut|peuvent|doit|permet|permettent|fait|va|était|avait|suis|ai"


def _negated(match: re.Match[str]) -> str:
    verb = match.group(0)
    return f"{'n’' if verb[0] in 'aeéiouê' else 'ne '}{verb} pas"


ALTERATIONS: dict[str, Callable[[str], str | None]] = {
    "nombre": _swap(r"\d(?=\D|$)", lambda m: str((int(m.group(0)) + 1) % 10)),
    "négation": lambda s: (
        _swap(r"\b[dDsS]ans\b", lambda m: {"d": "s", "s": "d", "D": "S", "S": "D"}[m.group(0)[0]] + "ans")(s)
        or _swap(r" (?:pas|jamais|plus)\b", lambda m: "")(s)
        or _swap(rf"\b(?:{_VERBS})\b", _negated)(s)
    ),
    "antonyme": _swap(
        r"\b(?:" + "|".join(sorted(ANTONYMS, key=len, reverse=True)) + r")\b",
        lambda m: _same_case(ANTONYMS[m.group(0).lower()], m.group(0)),
    ),
    "unité": _swap(r"[%€]", lambda m: "€" if m.group(0) == "%" else "%"),
    "signe": _swap(r"[+−–-](?=\d)", lambda m: "−" if m.group(0) == "+" else "+"),
    "comparaison": _swap(r"[≥≤<>]", lambda m: {"≥": "≤", "≤": "≥", "<": ">", ">": "<"}[m.group(0)]),
    "mois/fois": _swap(r"\b[mf]ois\b", lambda m: "fois" if m.group(0) == "mois" else "mois"),
}
KINDS = list(ALTERATIONS)


def _one_letter(sentence: str) -> str:
    """The longest word with its first letter changed (« dans » for « sans »): the fuzzy tolerance of old."""
    word = max(re.finditer(r"[^\W\d_]{3,}", sentence), key=lambda m: len(m.group(0)))
    first = word.group(0)[0]
    letter = "s" if first.lower() != "s" else "d"
    return sentence[: word.start()] + (letter.upper() if first.isupper() else letter) + sentence[word.start() + 1 :]


class Alterer:
    """Alters one word of each sentence, cycling through the kinds.

    An alteration that the passage itself holds somewhere (« page 10 » made « page 11 » in
    a passage with both footers) is not an alteration: the next kind is tried.
    """

    def __init__(self) -> None:
        self.turn = itertools.count()

    def __call__(self, sentence: str, passage: str) -> tuple[str, str]:
        start = next(self.turn) % len(KINDS)
        flat = " ".join(passage.split())
        for kind in KINDS[start:] + KINDS[:start]:
            altered = ALTERATIONS[kind](sentence)
            if altered is not None and " ".join(altered.split()) not in flat:
                return altered, kind
        return _one_letter(sentence), "lettre"


# --- the model doubles ------------------------------------------------------------------


def picked(passages: dict[str, str], seed: str) -> list[tuple[str, str]]:
    """One to three (chunk id, sentence) pairs from the prompt's passages, chosen by ``seed``."""
    pool = [(cid, s) for cid, text in passages.items() for s in sentences(text)]
    if not pool:
        return []
    state = zlib.crc32(seed.encode())
    count = 1 + state % 3
    return [pool[(state // 3 + k * 7919) % len(pool)] for k in range(min(count, len(pool)))]


@dataclass
class Quoter:
    """A chat-model script: answers « acquis » with sentences of its passages, as they are or
    changed by ``change(sentence, passage) -> (quote, kind of change)``."""

    change: Callable[[str, str], tuple[str, str]] | None = None
    quotes: list[tuple[str, str, str]] = field(default_factory=list)  # chunk id, quote, kind of change

    def __call__(self, messages: list[BaseMessage], number: int) -> str:
        passages = passages_in(messages)
        chosen = picked(passages, str(messages[1].content)[:2000] + "".join(passages))
        cited = []
        for cid, sentence in chosen:
            quote, kind = self.change(sentence, passages[cid]) if self.change else (sentence, "")
            self.quotes.append((cid, quote, kind))
            cited.append((cid, quote))
        return answer("acquis", cited)


class NoCache(ResultCache):
    """A result cache that never remembers: each run really calls the model."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))

    def get(self, key: str) -> CriterionResult | None:
        return None

    def put(self, key: str, result: CriterionResult) -> None:
        return None


# --- measures --------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    verbatim: int = 0
    verbatim_ok: int = 0
    retyped: int = 0
    retyped_ok: int = 0
    altered: int = 0
    altered_ok: int = 0
    survived: int | None = None
    kinds: Counter[str] = field(default_factory=Counter)
    kinds_ok: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # quote, reason, passage
    leaks: list[tuple[str, str, str]] = field(default_factory=list)  # altered quote, reason, passage

    def line(self) -> str:
        def pct(ok: int, n: int) -> str:
            return f"{100 * ok / n:.1f} %" if n else "—"

        survived = "—" if self.survived is None else str(self.survived)
        return (
            f"| {self.name} | {self.verbatim} | {pct(self.verbatim_ok, self.verbatim)} | "
            f"{pct(self.retyped_ok, self.retyped)} | {self.altered} | {pct(self.altered_ok, self.altered)} | "
            f"{survived} |"
        )


HEADER = [
    "| dossier | verbatim n | verbatim verified (goal ≥ 99 %) | retyped verified | altered n "
    "| altered verified (goal 0 %) | positive outcome on altered quotes only (goal 0) |",
    "|---|---:|---:|---:|---:|---:|---:|",
]


def pipeline_row(name: str, path: Path, referential: str, block: str, tmp: Path) -> Row:
    store = DossierStore(Settings(data_dir=tmp / name))
    store.ingest("d", [path])
    ref = Library.from_settings(Settings()).get(referential)
    positive = {level.code for level in ref.scale.levels if level.positive}
    chunks = {c.id: c.text for c in store.index.chunks("d")}
    row = Row(name)
    for run in ("verbatim", "retyped", "altered"):
        change = {"verbatim": None, "retyped": lambda s, _: (retyped(s), ""), "altered": Alterer()}[run]
        quoter = Quoter(change)
        model = FunctionChatModel(script=quoter)
        report = assess_dossier(store, "d", ref, blocks=[block], chat_model=(model, SPEC), cache=NoCache())
        called = [r for r in report.criteria if r.attempt_log]
        citations = [c for r in called for c in r.citations]
        verified = sum(c.verified for c in citations)
        if run != "altered":
            if run == "verbatim":
                row.verbatim, row.verbatim_ok = len(citations), verified
            else:
                row.retyped, row.retyped_ok = len(citations), verified
            row.failures += [(c.quote, c.verification, chunks.get(c.chunk_id, "")) for c in citations if not c.verified]
            continue
        row.altered, row.altered_ok = len(citations), verified
        row.survived = sum(r.outcome in positive for r in called)
        kind = {(cid, quote): k for cid, quote, k in quoter.quotes}
        for c in citations:
            row.kinds[kind[c.chunk_id, c.quote]] += 1
            row.kinds_ok[kind[c.chunk_id, c.quote]] += c.verified
            if c.verified:
                row.leaks.append((c.quote, c.verification, chunks.get(c.chunk_id, "")))
    return row


def samples(tmp: Path) -> list[Row]:
    rows = []
    for labels_path in sorted((ROOT / "sample_dossiers").glob("*/labels.json")):
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
        folder = labels_path.parent
        for path in sorted(folder.glob("dossier.*")):
            name = folder.name + (" (docx)" if path.suffix == ".docx" else "")
            rows.append(pipeline_row(name, path, labels["referential"], labels["block"], tmp))
    return rows


def realdata(folder: Path, tmp: Path) -> list[Row]:
    store = DossierStore(Settings(data_dir=tmp / "realdata"))
    rows = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in {".pdf", ".docx"}):
        dossier_id = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)[:60]
        store.ingest(dossier_id, [path])
        row = Row(path.name, survived=None)
        alterer = Alterer()
        for chunk in store.index.chunks(dossier_id):
            for sentence in sentences(chunk.text):
                check = verify_quote(sentence, chunk.text)
                row.verbatim += 1
                row.verbatim_ok += check.ok
                if not check.ok:
                    row.failures.append((sentence, check.reason, chunk.text))
                check = verify_quote(retyped(sentence), chunk.text)
                row.retyped += 1
                row.retyped_ok += check.ok
                if not check.ok:
                    row.failures.append((retyped(sentence), check.reason, chunk.text))
                altered, kind = alterer(sentence, chunk.text)
                check = verify_quote(altered, chunk.text)
                row.altered += 1
                row.altered_ok += check.ok
                row.kinds[kind] += 1
                row.kinds_ok[kind] += check.ok
                if check.ok:
                    row.leaks.append((altered, check.reason, chunk.text))
        rows.append(row)
    return rows


def table(title: str, rows: list[Row]) -> list[str]:
    total = Row("**total**", survived=None if all(r.survived is None for r in rows) else 0)
    for r in rows:
        total.verbatim += r.verbatim
        total.verbatim_ok += r.verbatim_ok
        total.retyped += r.retyped
        total.retyped_ok += r.retyped_ok
        total.altered += r.altered
        total.altered_ok += r.altered_ok
        if r.survived is not None and total.survived is not None:
            total.survived += r.survived
    return [title, "", *HEADER, *(r.line() for r in rows), total.line()]


def kinds_table(rows: list[Row]) -> list[str]:
    kinds: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    for r in rows:
        kinds.update(r.kinds)
        ok.update(r.kinds_ok)
    lines = ["Altered quotes by kind of alteration", "", "| alteration | n | verified |", "|---|---:|---:|"]
    lines += [f"| {k} | {kinds[k]} | {ok[k]} |" for k in [*KINDS, "lettre"] if kinds[k]]
    return lines


def listed(title: str, found: list[tuple[str, str, str, str]], show: int) -> list[str]:
    lines = [f"{title}: {len(found)}"]
    for name, quote, reason, passage in found[:show]:
        lines += ["", f"- {name}: {quote!r}", f"  reason: {reason}", f"  passage: {passage[:400]!r}"]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata" / "dossiers")
    parser.add_argument("--show", type=int, default=20, help="how many failed verbatim quotes to print")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assessor-citations-") as tmp:
        sample_rows = samples(Path(tmp))
        print("\n".join(table("Sample dossiers, through assess_dossier with a model double", sample_rows)), end="\n\n")
        if args.realdata.is_dir():
            real_rows = realdata(args.realdata, Path(tmp))
            print("\n".join(table(f"Real dossiers of {args.realdata}, verify_quote on every chunk", real_rows)))
            print()
        else:
            real_rows = []
            print(f"(real dossiers not found in {args.realdata}: their table is skipped)\n")
        rows = sample_rows + real_rows
        print("\n".join(kinds_table(rows)), end="\n\n")
        leaks = [(r.name, *f) for r in rows for f in r.leaks]
        print("\n".join(listed("Altered quotes verified", leaks, args.show)), end="\n\n")
        failed = [(r.name, *f) for r in rows for f in r.failures]
        print("\n".join(listed("Verbatim quotes that failed", failed, args.show)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
