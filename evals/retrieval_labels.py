"""The labelled retrieval set: real dossiers located without their text, plus the sample dossiers.

The real documents (``../shared/realdata/dossiers``) carry no licence and some hold personal
data, so their labels (``evals/datasets/realdata_retrieval.yaml``) store no text: every
evidence excerpt and every line of page furniture is a *location* in a canonical extraction
of the file, with a hash that proves the location still holds what was labelled. The
excerpts are rebuilt from the files at run time. The rules followed are in
``evals/retrieval-labels.md``.

**Canonical extraction.** Page ``n`` (1-based) of a PDF is
``pypdfium2.PdfDocument(path)[n - 1].get_textpage().get_text_range()`` with ``"\\r\\n"`` and
then any lone ``"\\r"`` made ``"\\n"``. Its *lines* are that text split on ``"\\n"``. It does not
depend on how Assessor reads or chunks files, which is the point: the labels measure any
ingestion. Hashes are the sha256 of the UTF-8 bytes of the text with its whitespace runs
collapsed to one space and stripped (``digest``). A new pdfium build that extracts the same page
differently shows as a hash mismatch, and that dossier is skipped with a message; re-locate its
excerpts with ``evals/locate.py`` from their paraphrases.

**Matching** (used by ``benchmarks/retrieval_real.py``; defined here so that the tests can
reach them): ``compact`` reduces a text to its letters and digits, case folded, after Unicode
NFKC; ``hits`` and ``Furniture`` work on that form (see their docstrings).

``load_labelled_set()`` returns every labelled dossier, real and sample, with its files,
référentiel, blocks, criteria (present or absent, gold excerpts) and furniture.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pypdfium2
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "evals" / "datasets" / "realdata_retrieval.yaml"
REALDATA = ROOT.parent / "shared" / "realdata"
SAMPLES = ROOT / "sample_dossiers"
REFERENTIALS = ROOT / "evals" / "referentials"

HIT_SHARE = 0.6
"""A passage hits an excerpt when it holds this share of the excerpt in one piece."""
FURNITURE_RESIDUE = 60
"""A passage is furniture when fewer letters and digits than this remain once furniture is removed."""
FURNITURE_PIECE = 10
"""A run of consecutive words of a furniture line counts on its own from this many letters and digits."""


# --- canonical extraction -------------------------------------------------------------------


def canonical_pages(path: Path) -> list[str]:
    """The canonical text of every page of a PDF (index 0 is page 1)."""
    document = pypdfium2.PdfDocument(str(path))
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def collapse(text: str) -> str:
    """Whitespace runs made one space, ends stripped: the form that is hashed."""
    return " ".join(text.split())


def digest(text: str) -> str:
    return hashlib.sha256(collapse(text).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compact(text: str) -> str:
    """Letters and digits only, case folded, after NFKC: what matching compares.

    Whitespace, punctuation, hyphenation marks, table separators (« | ») and quote styles differ
    between extractors and carry no evidence; dropping them makes two readings of the same
    words equal."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


# --- the two definitions the benchmark rests on ---------------------------------------------


def hits(passage: str, excerpt: str, *, share: float = HIT_SHARE) -> bool:
    """Whether a retrieved passage shows a gold excerpt.

    Both are compared in ``compact`` form; the passage must contain at least ``share`` of the
    excerpt as ONE contiguous piece. One piece, because a jury reads a passage in order: words
    of the excerpt scattered through interleaved columns are not the excerpt. 60 % and not
    100 %, because a chunker may cut an excerpt at a chunk boundary and a passage that shows
    most of it still leads the reader to it; more than half, so that one excerpt cannot be
    "hit" by two disjoint halves that each show too little."""
    target = compact(excerpt)
    text = compact(passage)
    if not target or not text:
        return False
    need = max(1, math.ceil(share * len(target)))
    return any(target[i : i + need] in text for i in range(len(target) - need + 1))


class Furniture:
    """The page furniture of one dossier, to measure how much of a passage is furniture.

    A furniture line is removed from a passage (both in ``compact`` form) wherever it occurs
    whole (lines of fewer than 3 letters and digits, such as « 1. », are ignored), and so is
    every run of two or more consecutive words of it that has at least ``FURNITURE_PIECE``
    letters and digits: an extractor that splits a line, interleaves two lines or reorders
    its parts still has it removed. Longest pieces go first."""

    def __init__(self, lines: Iterable[str], *, piece: int = FURNITURE_PIECE) -> None:
        pieces: set[str] = set()
        for line in set(lines):
            whole = compact(line)
            if len(whole) >= 3:
                pieces.add(whole)
            words = [w for w in (compact(w) for w in line.split()) if w]
            for i in range(len(words)):
                for j in range(i + 2, len(words) + 1):
                    run = "".join(words[i:j])
                    if len(run) >= piece:
                        pieces.add(run)
        self.pieces = sorted(pieces, key=lambda p: (-len(p), p))
        self._cache: dict[str, int] = {}

    def residue(self, passage: str) -> int:
        """Letters and digits of the passage left once its furniture is removed."""
        if passage not in self._cache:
            text = compact(passage)
            for piece in self.pieces:
                if piece in text:
                    text = text.replace(piece, "")
            self._cache[passage] = len(text)
        return self._cache[passage]

    def is_furniture(self, passage: str, *, threshold: int = FURNITURE_RESIDUE) -> bool:
        """Fewer than ``threshold`` letters and digits remain: nothing a jury could read as
        evidence (a cover, a table of contents, a running footer, a form heading, or a bare
        heading, which has too few characters even with no furniture labelled)."""
        return self.residue(passage) < threshold


# --- the label file ---------------------------------------------------------------------------


class FurnitureKind(StrEnum):
    RUNNING = "running"  # running header or footer, repeated page title
    COVER = "cover"  # cover page, back cover, title page
    TOC = "toc"  # table of contents, section divider page
    TEMPLATE = "template"  # fixed text of an official form: headings, instructions, field labels
    ARTEFACT = "artefact"  # text left by a figure: chart axis values, slide numbers


_STRICT = ConfigDict(extra="forbid")


class Excerpt(BaseModel):
    """Where a gold excerpt is: [start, end) in the canonical text of its page."""

    model_config = _STRICT

    page: int = Field(ge=1)
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="digest() of the excerpt.")
    paraphrase: str = Field(min_length=10, description="What it shows, in the labeller's words (French).")


class CriterionLabel(BaseModel):
    model_config = _STRICT

    id: str
    evidence: list[Excerpt] = Field(default_factory=list, max_length=3)
    absent: str | None = Field(default=None, description="Why the dossier holds no evidence (French).")

    @model_validator(mode="after")
    def _one_of(self) -> CriterionLabel:
        if bool(self.evidence) == bool(self.absent):
            raise ValueError(f"{self.id}: give either 1 to 3 evidence excerpts or an « absent » reason")
        return self


class FurnitureLine(BaseModel):
    model_config = _STRICT

    page: int = Field(ge=1)
    line: int = Field(ge=0)
    kind: FurnitureKind
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DossierLabels(BaseModel):
    model_config = _STRICT

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    description: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The PDF's sha256: how its file is found.")
    pages: int = Field(ge=1)
    referential: str
    blocks: list[str] = Field(min_length=1)
    why: str = Field(description="Why this référentiel and block.")
    criteria: list[CriterionLabel]
    furniture: list[FurnitureLine] = Field(default_factory=list)


class LabelFile(BaseModel):
    model_config = _STRICT

    canonical_extraction: str
    dossiers: list[DossierLabels]


def read_label_file(path: Path = LABELS) -> LabelFile:
    return LabelFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


# --- the labelled set, ready to evaluate --------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    text: str
    page: int | None = None
    paraphrase: str = ""


@dataclass(frozen=True)
class LabelledCriterion:
    id: str
    present: bool
    gold: tuple[Gold, ...] = ()


@dataclass
class LabelledDossier:
    key: str
    source: Literal["realdata", "sample"]
    files: list[Path]
    referential: str
    blocks: list[str]
    criteria: list[LabelledCriterion]
    furniture_lines: list[str] = field(default_factory=list)

    @property
    def furniture(self) -> Furniture:
        return Furniture(self.furniture_lines)


@dataclass(frozen=True)
class Skipped:
    key: str
    reason: str


@dataclass
class LabelledSet:
    dossiers: list[LabelledDossier]
    skipped: list[Skipped]


class LabelError(Exception):
    """A label does not rebuild: wrong hash, offsets outside the page, unknown line."""


def _find_files(folder: Path) -> dict[str, Path]:
    """sha256 -> path of every PDF under the folder (the labels name no file: names hold people's)."""
    if not folder.is_dir():
        return {}
    return {file_sha256(p): p for p in sorted(folder.rglob("*.pdf"))}


def rebuild(labels: DossierLabels, path: Path) -> LabelledDossier:
    """The dossier's excerpts and furniture lines, read from its file and checked against their hashes."""
    pages = canonical_pages(path)
    if len(pages) != labels.pages:
        raise LabelError(f"{labels.key}: {len(pages)} pages, {labels.pages} expected")
    criteria = []
    for label in labels.criteria:
        gold = []
        for ex in label.evidence:
            if ex.page > len(pages) or not ex.start < ex.end <= len(pages[ex.page - 1]):
                raise LabelError(f"{labels.key} {label.id}: page {ex.page} [{ex.start}, {ex.end}) is outside the page")
            text = pages[ex.page - 1][ex.start : ex.end]
            if digest(text) != ex.sha256:
                raise LabelError(f"{labels.key} {label.id}: the excerpt on page {ex.page} no longer matches its hash")
            gold.append(Gold(text=collapse(text), page=ex.page, paraphrase=ex.paraphrase))
        criteria.append(LabelledCriterion(id=label.id, present=bool(gold), gold=tuple(gold)))
    lines = []
    for fl in labels.furniture:
        page_lines = pages[fl.page - 1].split("\n") if fl.page <= len(pages) else []
        if fl.line >= len(page_lines) or digest(page_lines[fl.line]) != fl.sha256:
            raise LabelError(f"{labels.key}: furniture line {fl.line} of page {fl.page} no longer matches its hash")
        lines.append(page_lines[fl.line])
    return LabelledDossier(
        key=labels.key,
        source="realdata",
        files=[path],
        referential=labels.referential,
        blocks=labels.blocks,
        criteria=criteria,
        furniture_lines=lines,
    )


def sample_furniture(pages: Sequence[str]) -> list[str]:
    """Furniture of a sample dossier, by rule (its layout is the project's own generator's):
    every line of the front matter (cover and table of contents: the pages before the first
    body heading appears alone on a line) and every line repeated, digits aside, on at least
    60 % of the other pages (running header and footer)."""
    lines = [page.split("\n") for page in pages]
    toc_titles = {re.sub(r"[\s.]+\d+$", "", line).strip() for line in lines[0]}
    body = next(
        (i for i, page in enumerate(lines) if i > 0 and any(line.strip() in toc_titles for line in page)),
        1,
    )
    furniture = [line for page in lines[:body] for line in page]
    shapes = Counter(shape for page in lines[body:] for shape in {re.sub(r"\d+", "#", line) for line in page})
    repeated = {shape for shape, n in shapes.items() if n >= 0.6 * (len(lines) - body) and compact(shape)}
    furniture += [line for page in lines[body:] for line in page if re.sub(r"\d+", "#", line) in repeated]
    return furniture


def load_samples(folder: Path = SAMPLES) -> list[LabelledDossier]:
    """The four sample dossiers, from their ``labels.json`` (gold quotes reused, not relabelled)."""
    dossiers = []
    for labels_path in sorted(folder.glob("*/labels.json")):
        data = json.loads(labels_path.read_text(encoding="utf-8"))
        pdf = labels_path.parent / "dossier.pdf"
        criteria = [
            LabelledCriterion(
                id=c["criterion_id"],
                present=bool(c["evidence"]),
                gold=tuple(Gold(text=collapse(e["quote"]), page=e["page"]) for e in c["evidence"]),
            )
            for c in data["criteria"]
        ]
        dossiers.append(
            LabelledDossier(
                key=f"sample-{data['dossier']}",
                source="sample",
                files=[pdf],
                referential=data["referential"],
                blocks=[data["block"]],
                criteria=criteria,
                furniture_lines=sample_furniture(canonical_pages(pdf)),
            )
        )
    return dossiers


def load_labelled_set(realdata: Path = REALDATA, *, labels: Path = LABELS, samples: bool = True) -> LabelledSet:
    """Every labelled dossier: the real ones whose file is found (by sha256, under
    ``realdata``) and rebuilds, then the sample dossiers. A real dossier whose file is absent
    or whose labels no longer match is in ``skipped``, with the reason."""
    label_file = read_label_file(labels)
    files = _find_files(realdata)
    dossiers: list[LabelledDossier] = []
    skipped: list[Skipped] = []
    for entry in label_file.dossiers:
        path = files.get(entry.sha256)
        if path is None:
            skipped.append(
                Skipped(entry.key, f"no PDF under {realdata} has sha256 {entry.sha256[:12]}… ({entry.description})")
            )
            continue
        try:
            dossiers.append(rebuild(entry, path))
        except LabelError as exc:
            skipped.append(Skipped(entry.key, str(exc)))
    if samples:
        dossiers += load_samples()
    return LabelledSet(dossiers=dossiers, skipped=skipped)
