"""Bad input: every file a candidate or a jury may send by mistake gets a specific, actionable message.

Each case is generated here, in a temporary folder (no binary fixture is committed): encrypted,
truncated and corrupted PDFs, an empty file, a scanned (image-only) PDF, files whose extension
lies, a PDF over the page limit, a line over the length limit, text in an unknown code page and
formats Assessor does not read.

Through the command line, a refused file means exit code 1, « [code] file : message » and a
« → hint » on stderr, never a traceback, and a store left exactly as it was: the dossier's
manifest, kept files and indexed chunks are those of before the failed batch.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from typer.testing import CliRunner, Result

from assessor.cli import app
from assessor.dossiers import DossierStore
from assessor.ingest import IngestError, IngestErrorCode, load_file
from assessor.ingest.ocr import tesseract_status
from assessor.settings import IngestSettings, Settings

runner = CliRunner()
DOSSIER = "2026-durand-camille"

# --- generators -------------------------------------------------------------------------------

_PROSE = (
    "le candidat a conduit un entretien de découverte avec le client pour analyser ses besoins "
    "puis il a proposé une offre adaptée au budget négocié les conditions de paiement et relancé "
    "le prospect après la démonstration du produit en magasin comme sur le site marchand "
    "l'équipe commerciale suit le portefeuille les objectifs trimestriels la fidélisation "
    "le tableau de bord mensuel la stratégie omnicanale le devis signé et la marge réalisée"
)
_WORDS = _PROSE.split()


def french_line(rng: random.Random, words: int = 12) -> str:
    """A line of French prose: distinct on every page, so no line is taken for a running header."""
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def write_pdf(path: Path, pages: int, *, lines: int = 14, seed: int = 0) -> Path:
    """A text PDF of ``pages`` pages of French prose (reportlab, Helvetica: accents are fine)."""
    rng = random.Random(seed)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        for i in range(lines):
            pdf.drawString(60, 780 - 18 * i, french_line(rng))
        pdf.showPage()
    pdf.save()
    return path


def write_long_pdf(path: Path, pages: int) -> Path:
    """Many pages, fast: one short, different line per page."""
    rng = random.Random(pages)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        pdf.drawString(60, 780, french_line(rng, 8))
        pdf.showPage()
    pdf.save()
    return path


def _scan_image(seed: int) -> ImageReader:
    """A « scanned page » without any text: grey paper with dark rectangles."""
    rng = random.Random(seed)
    image = Image.new("RGB", (420, 594), (236, 236, 230))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(20, 300), rng.randrange(20, 500)
        draw.rectangle([x, y, x + rng.randrange(30, 100), y + rng.randrange(5, 60)], fill=(40, 40, 70))
    return ImageReader(image)


def write_image_pdf(path: Path, pages: int = 2, *, text_pages: tuple[int, ...] = ()) -> Path:
    """A PDF whose pages are images only (no text layer), except the 1-based ``text_pages``."""
    rng = random.Random(7)
    pdf = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for number in range(1, pages + 1):
        if number in text_pages:
            for i in range(14):
                pdf.drawString(60, 780 - 18 * i, french_line(rng))
        else:
            pdf.drawImage(_scan_image(number), 0, 0, width=width, height=height)
        pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Analyse du besoin client", level=1)
    rng = random.Random(3)
    for _ in range(6):
        document.add_paragraph(" ".join(french_line(rng) for _ in range(4)))
    document.save(str(path))
    return path


def encrypt_pdf(source: Path, target: Path, *, user_password: str, algorithm: str = "AES-256") -> Path:
    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password=user_password, owner_password="mot-de-passe-du-proprietaire", algorithm=algorithm)
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def write_zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path


@dataclass(frozen=True)
class Sources:
    """Valid files generated once per module, copied or damaged by each case."""

    pdf: Path
    docx: Path
    big_pdf: Path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    folder = tmp_path_factory.mktemp("sources")
    return Sources(
        pdf=write_pdf(folder / "source.pdf", 3, seed=11),
        docx=write_docx(folder / "source.docx"),
        big_pdf=write_long_pdf(folder / "annexes.pdf", 500),
    )


# --- the bad cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BadCase:
    id: str
    filename: str
    make: Callable[[Path, Sources], object]
    code: IngestErrorCode
    says: tuple[str, ...]  # fragments of the message (whitespace-normalised)
    hint_says: tuple[str, ...] = ()
    cli_args: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


def _copy(path: Path, src: Sources, which: str) -> None:
    path.write_bytes(getattr(src, which).read_bytes())


def _truncated(path: Path, src: Sources) -> None:
    data = src.pdf.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupted(path: Path, src: Sources) -> None:
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + random.Random(5).randbytes(6000))


def _png(path: Path, src: Sources) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def _ole(path: Path, src: Sources) -> None:
    # Compound File Binary header of Word 97-2003, then a sector of zeros and noise.
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + random.Random(6).randbytes(1536))


def _binary(path: Path, src: Sources) -> None:
    path.write_bytes(random.Random(8).randbytes(3000) + b"\x00\x00\x00\x01" + random.Random(9).randbytes(1000))


BAD_CASES = [
    BadCase(
        "pdf-user-password-aes",
        "protege.pdf",
        lambda p, s: encrypt_pdf(s.pdf, p, user_password="secret"),
        IngestErrorCode.PDF_ENCRYPTED,
        ("protégé par un mot de passe",),
        ("copie sans mot de passe", "qpdf --decrypt"),
    ),
    BadCase(
        "pdf-user-password-rc4",
        "protege-rc4.pdf",
        lambda p, s: encrypt_pdf(s.pdf, p, user_password="secret", algorithm="RC4-128"),
        IngestErrorCode.PDF_ENCRYPTED,
        ("protégé par un mot de passe",),
        ("copie sans mot de passe",),
    ),
    BadCase(
        "pdf-truncated",
        "tronque.pdf",
        _truncated,
        IngestErrorCode.PDF_CORRUPT,
        ("endommagé ou tronqué",),
        ("Ré-exportez-le",),
    ),
    BadCase(
        "pdf-corrupted",
        "corrompu.pdf",
        _corrupted,
        IngestErrorCode.PDF_CORRUPT,
        ("endommagé ou tronqué",),
        ("Ré-exportez-le",),
    ),
    BadCase(
        "zero-byte",
        "vide.pdf",
        lambda p, s: p.write_bytes(b""),
        IngestErrorCode.EMPTY,
        ("vide (0 octet)",),
        ("récupérez à nouveau le fichier",),
    ),
    BadCase(
        "image-only-pdf-no-ocr",
        "scan.pdf",
        lambda p, s: write_image_pdf(p, 2),
        IngestErrorCode.PDF_NO_TEXT,
        ("aucune des 2 pages", "texte lisible", "pages scannées : 1, 2", "l'OCR est désactivé"),
        ("Relancez sans --no-ocr",),
        cli_args=("--no-ocr",),
        settings={"ocr": False},
    ),
    BadCase(
        "docx-named-pdf",
        "memoire.pdf",
        lambda p, s: _copy(p, s, "docx"),
        IngestErrorCode.EXTENSION_MISMATCH,
        ("l'extension annonce un PDF", "le contenu est un document Word (.docx)"),
        ("Renommez le fichier avec l'extension .docx",),
    ),
    BadCase(
        "pdf-named-docx",
        "rapport.docx",
        lambda p, s: _copy(p, s, "pdf"),
        IngestErrorCode.EXTENSION_MISMATCH,
        ("l'extension annonce un document Word (.docx)", "le contenu est un PDF"),
        ("Renommez le fichier avec l'extension .pdf",),
    ),
    BadCase(
        "pdf-over-the-page-limit",
        "annexes.pdf",
        lambda p, s: _copy(p, s, "big_pdf"),
        IngestErrorCode.TOO_MANY_PAGES,
        ("500 pages", "limite de 400"),
        ("--max-pages", "ASSESSOR_INGEST__MAX_PAGES"),
        cli_args=("--max-pages", "400"),
        settings={"max_pages": 400},
    ),
    BadCase(
        "line-over-the-limit",
        "export.txt",
        lambda p, s: p.write_text("vente " * 350_000, encoding="utf-8"),
        IngestErrorCode.LINE_TOO_LONG,
        ("2 100 000 caractères sans retour à la ligne", "limite de 2 000 000"),
        ("découpé en paragraphes", "ASSESSOR_INGEST__MAX_LINE_CHARS"),
    ),
    BadCase(
        "dos-code-page-text",
        "notes.txt",
        lambda p, s: p.write_bytes("Écart de prix négocié avec M. Müller : 5 %.\n".encode("cp850")),
        IngestErrorCode.UNKNOWN_ENCODING,
        ("l'encodage du texte n'est pas reconnu", "octet 0x90 à la position 0"),
        ("enregistrez-le en UTF-8", "iconv"),
    ),
    BadCase(
        "odt",
        "memoire.odt",
        lambda p, s: write_zip(
            p,
            {
                "mimetype": "application/vnd.oasis.opendocument.text",
                "content.xml": "<office:document-content><text:p>Bonjour</text:p></office:document-content>",
            },
        ),
        IngestErrorCode.UNSUPPORTED,
        ("OpenDocument",),
        ("Enregistrez-le en .docx ou en PDF",),
    ),
    BadCase(
        "xlsx",
        "tableau.xlsx",
        lambda p, s: write_zip(
            p,
            {
                "[Content_Types].xml": "<Types/>",
                "xl/workbook.xml": "<workbook/>",
                "xl/worksheets/sheet1.xml": "<worksheet/>",
            },
        ),
        IngestErrorCode.UNSUPPORTED,
        ("classeur Excel",),
        ("Exportez les tableaux utiles en PDF",),
    ),
    BadCase(
        "png",
        "capture.png",
        _png,
        IngestErrorCode.UNSUPPORTED,
        ("image PNG",),
        ("Insérez l'image dans un PDF",),
    ),
    BadCase(
        "old-doc",
        "ancien.doc",
        _ole,
        IngestErrorCode.UNSUPPORTED,
        ("Word 97-2003 (.doc)",),
        ("enregistrez-le en .docx ou en PDF",),
    ),
    BadCase(
        "random-binary",
        "donnees.bin",
        _binary,
        IngestErrorCode.UNSUPPORTED,
        ("binaire", "pas un format reconnu"),
        ("Formats acceptés",),
    ),
    BadCase(
        "rtf-extension-with-text",
        "lettre.rtf",
        lambda p, s: p.write_text("Lettre de motivation du candidat, en texte brut.\n", encoding="utf-8"),
        IngestErrorCode.UNSUPPORTED,
        ("l'extension « .rtf » n'est pas prise en charge",),
        ("Formats acceptés", "renommez-le en .txt"),
    ),
    # A few neighbours of the list, with the same guarantees.
    BadCase(
        "real-rtf",
        "lettre-word.rtf",
        lambda p, s: p.write_text(r"{\rtf1\ansi\deff0 {\fonttbl {\f0 Arial;}} Lettre du candidat.}", "utf-8"),
        IngestErrorCode.UNSUPPORTED,
        ("document RTF",),
        ("Enregistrez-le en .docx ou en PDF",),
    ),
    BadCase(
        "docx-truncated",
        "memoire-tronque.docx",
        lambda p, s: p.write_bytes(s.docx.read_bytes()[: s.docx.stat().st_size // 2]),
        IngestErrorCode.DOCX_CORRUPT,
        ("endommagé ou tronqué",),
        ("Ré-enregistrez le document",),
    ),
    BadCase(
        "binary-named-txt",
        "notes-binaires.txt",
        _binary,
        IngestErrorCode.UNSUPPORTED,
        ("binaire",),
        ("Formats acceptés",),
    ),
    BadCase(
        "blank-text",
        "blanc.md",
        lambda p, s: p.write_text("   \n\n\t\n  \n", encoding="utf-8"),
        IngestErrorCode.NO_TEXT,
        ("aucun texte",),
        ("page blanche",),
    ),
]


def _flat(text: str) -> str:
    """Rich wraps stderr at the terminal width: compare with whitespace collapsed."""
    return " ".join(text.split())


# --- the library: load_file raises IngestError with the right code ----------------------------


@pytest.mark.parametrize("case", BAD_CASES, ids=[c.id for c in BAD_CASES])
def test_load_file_raises_a_specific_ingest_error(case: BadCase, sources: Sources, tmp_path: Path) -> None:
    path = tmp_path / case.filename
    case.make(path, sources)
    with pytest.raises(IngestError) as caught:
        load_file(path, IngestSettings(**case.settings))
    error = caught.value
    assert error.code is case.code, f"{case.id}: {error}"
    assert error.file == case.filename
    for fragment in case.says:
        assert fragment in error.message, f"{fragment!r} not in {error.message!r}"
    for fragment in case.hint_says:
        assert fragment in error.hint, f"{fragment!r} not in {error.hint!r}"
    assert error.hint.strip()
    assert str(error).startswith(f"[{case.code}] {case.filename} : ")


def test_every_error_code_of_a_file_is_exercised() -> None:
    """Every code a file can earn has a bad case here (the missing file is tested below)."""
    covered = {case.code for case in BAD_CASES} | {IngestErrorCode.NOT_FOUND}
    hostile = {  # files built to attack the reader: tests/test_hostile.py
        IngestErrorCode.ARCHIVE_BOMB,
        IngestErrorCode.PDF_BOMB,
        IngestErrorCode.TOO_MUCH_TEXT,
        IngestErrorCode.TOO_SLOW,
        IngestErrorCode.TOO_MUCH_MEMORY,
        IngestErrorCode.READ_FAILED,
    }
    untested = set(IngestErrorCode) - covered - hostile - {IngestErrorCode.TOO_LARGE}  # 100 MB: too slow to write
    assert not untested


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        load_file(tmp_path / "absent.pdf")
    assert caught.value.code is IngestErrorCode.NOT_FOUND
    assert "absent.pdf" in caught.value.message


def test_file_over_the_size_limit_is_too_large(sources: Sources, tmp_path: Path) -> None:
    path = tmp_path / "gros.pdf"
    shutil.copyfile(sources.big_pdf, path)  # ~270 kB, over a limit lowered to 0.1 MB
    with pytest.raises(IngestError) as caught:
        load_file(path, IngestSettings(max_file_mb=0.1))
    assert caught.value.code is IngestErrorCode.TOO_LARGE
    assert "au-delà de la limite de 0,1 Mo" in caught.value.message
    assert "ASSESSOR_INGEST__MAX_FILE_MB" in caught.value.hint


@pytest.mark.skipif(tesseract_status() is not None, reason="tesseract (with French) is not installed")
def test_image_only_pdf_with_ocr_that_reads_nothing_is_pdf_sans_texte(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", 1)
    with pytest.raises(IngestError) as caught:
        load_file(path, IngestSettings(ocr=True))
    assert caught.value.code is IngestErrorCode.PDF_NO_TEXT
    assert "l'OCR n'a rien reconnu" in caught.value.message


def test_owner_password_only_pdf_reads_like_the_original(sources: Sources, tmp_path: Path) -> None:
    path = encrypt_pdf(sources.pdf, tmp_path / "proprietaire.pdf", user_password="")
    assert PdfReader(path).is_encrypted
    loaded = load_file(path)
    original = load_file(sources.pdf)
    assert [p.text for p in loaded.pages] == [p.text for p in original.pages]
    assert len(loaded.pages) == 3 and not loaded.warnings


def test_scanned_page_among_text_pages_is_named_in_a_warning(tmp_path: Path) -> None:
    path = write_image_pdf(tmp_path / "mixte.pdf", 3, text_pages=(1, 3))
    loaded = load_file(path, IngestSettings(ocr=False))
    assert loaded.unreadable_pages == [2]
    assert any("non lues : 2" in w and "--no-ocr" in w for w in loaded.warnings), loaded.warnings


# --- the command line: exit 1, a message, no traceback, the store as it was ---------------------


def cli(data: Path, *args: str) -> Result:
    return runner.invoke(app, ["--data-dir", str(data), *args])


def assert_clean(result: Result) -> None:
    """No traceback, and no exception other than the command's own exit."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder, by relative path, with its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Baseline:
    data: Path
    first: Path
    first_record: dict[str, Any]
    second: Path


@pytest.fixture
def baseline(sources: Sources, tmp_path: Path) -> Baseline:
    """A dossier holding one valid file, and a second valid file ready to be added."""
    data = tmp_path / "data"
    first = tmp_path / "premier.pdf"
    shutil.copyfile(sources.pdf, first)
    second = write_pdf(tmp_path / "annexe-valide.pdf", 2, seed=42)
    result = cli(data, "ingest", str(first), "--dossier", DOSSIER, "--json")
    assert result.exit_code == 0, result.stderr
    assert_clean(result)
    record = json.loads(result.stdout)["added"][0]
    assert record["name"] == "premier.pdf" and record["chunks"] > 0
    return Baseline(data, first, record, second)


def index_count(data: Path) -> int:
    return DossierStore(Settings(data_dir=data)).index.count(DOSSIER)


def assert_store_holds_only_the_first_file(base: Baseline) -> None:
    shown = cli(base.data, "dossiers", "show", DOSSIER, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert_clean(shown)
    dossier = json.loads(shown.stdout)
    assert [f["name"] for f in dossier["files"]] == ["premier.pdf"]
    assert dossier["files"][0]["sha256"] == base.first_record["sha256"]
    assert index_count(base.data) == base.first_record["chunks"]
    kept = sorted(p.name for p in (base.data / "dossiers" / DOSSIER / "files").iterdir())
    assert kept == [f"{base.first_record['sha256']}.pdf"]


@pytest.mark.parametrize("case", BAD_CASES, ids=[c.id for c in BAD_CASES])
def test_cli_refuses_the_batch_and_leaves_the_store_as_it_was(
    case: BadCase, sources: Sources, baseline: Baseline, tmp_path: Path
) -> None:
    bad = tmp_path / case.filename
    case.make(bad, sources)
    folder = baseline.data / "dossiers" / DOSSIER
    before = snapshot(folder)
    assert index_count(baseline.data) == baseline.first_record["chunks"]

    result = cli(baseline.data, "ingest", str(baseline.second), str(bad), "--dossier", DOSSIER, *case.cli_args)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert_clean(result)
    assert snapshot(folder) == before  # manifest, kept files: byte for byte; no temporary left
    assert_store_holds_only_the_first_file(baseline)
    err = _flat(result.stderr)
    assert case.filename in err
    for fragment in case.says:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert "→" in err
    for fragment in case.hint_says:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    assert "Rien n'a été enregistré" in err
    assert f"[{case.code}]" in err, f"the error code [{case.code}] is missing from stderr: {err!r}"


def test_cli_missing_file_is_refused_with_the_store_unchanged(baseline: Baseline, tmp_path: Path) -> None:
    result = cli(baseline.data, "ingest", str(baseline.second), str(tmp_path / "absent.pdf"), "--dossier", DOSSIER)
    assert result.exit_code == 1
    assert_clean(result)
    assert_store_holds_only_the_first_file(baseline)
    err = _flat(result.stderr)
    assert "absent.pdf" in err and "n'existe pas" in err and "→" in err
    assert f"[{IngestErrorCode.NOT_FOUND}]" in err, err


def test_cli_after_a_refusal_the_valid_file_can_be_added(sources: Sources, baseline: Baseline, tmp_path: Path) -> None:
    bad = encrypt_pdf(sources.pdf, tmp_path / "protege.pdf", user_password="secret")
    assert cli(baseline.data, "ingest", str(baseline.second), str(bad), "--dossier", DOSSIER).exit_code == 1
    result = cli(baseline.data, "ingest", str(baseline.second), "--dossier", DOSSIER, "--json")
    assert result.exit_code == 0, result.stderr
    added = json.loads(result.stdout)["added"]
    assert [a["name"] for a in added] == ["annexe-valide.pdf"]
    assert index_count(baseline.data) == baseline.first_record["chunks"] + added[0]["chunks"]


def test_cli_refused_first_ingestion_creates_no_dossier(sources: Sources, tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "vide.pdf"
    bad.write_bytes(b"")
    good = shutil.copyfile(sources.pdf, tmp_path / "premier.pdf")
    result = cli(data, "ingest", str(good), str(bad), "--dossier", DOSSIER)
    assert result.exit_code == 1
    assert_clean(result)
    assert not (data / "dossiers").exists()
    listed = cli(data, "dossiers", "list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []
    shown = cli(data, "dossiers", "show", DOSSIER, "--json")
    assert shown.exit_code == 1 and "introuvable" in _flat(shown.stderr)
    assert_clean(shown)


def test_cli_owner_password_only_pdf_is_ingested(baseline: Baseline, sources: Sources, tmp_path: Path) -> None:
    path = encrypt_pdf(write_pdf(tmp_path / "clair.pdf", 2, seed=99), tmp_path / "proprietaire.pdf", user_password="")
    result = cli(baseline.data, "ingest", str(path), "--dossier", DOSSIER, "--json")
    assert result.exit_code == 0, result.stderr
    assert_clean(result)
    report = json.loads(result.stdout)
    added = report["added"]
    assert [a["name"] for a in added] == ["proprietaire.pdf"]
    assert added[0]["pages"] == 2 and added[0]["chunks"] > 0 and not added[0]["warnings"]
    assert [f["name"] for f in report["dossier"]["files"]] == ["premier.pdf", "proprietaire.pdf"]
    assert index_count(baseline.data) == baseline.first_record["chunks"] + added[0]["chunks"]


def test_cli_500_page_pdf_is_accepted_within_the_default_limit(sources: Sources, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = cli(data, "ingest", str(sources.big_pdf), "--dossier", DOSSIER, "--json")
    assert result.exit_code == 0, result.stderr
    assert_clean(result)
    record = json.loads(result.stdout)["added"][0]
    assert record["name"] == "annexes.pdf" and record["pages"] == 500
    assert record["chunks"] > 0 and index_count(data) == record["chunks"]


def test_cli_scanned_page_among_text_pages_is_ingested_with_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write_image_pdf(tmp_path / "mixte.pdf", 3, text_pages=(1, 3))
    result = cli(data, "ingest", str(path), "--dossier", DOSSIER, "--no-ocr", "--json")
    assert result.exit_code == 0, result.stderr
    assert_clean(result)
    record = json.loads(result.stdout)["added"][0]
    assert record["unreadable_pages"] == [2]
    assert any("non lues : 2" in w for w in record["warnings"])


def test_console_script_refuses_an_encrypted_pdf_without_traceback(sources: Sources, tmp_path: Path) -> None:
    """The installed command, in a real process: stderr and the exit status as a user sees them."""
    exe = shutil.which("assessor") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "assessor")
    bad = encrypt_pdf(sources.pdf, tmp_path / "protege.pdf", user_password="secret")
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    completed = subprocess.run(
        [exe, "--data-dir", str(tmp_path / "data"), "ingest", str(bad), "--dossier", DOSSIER],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "protege.pdf" in completed.stderr and "mot de passe" in completed.stderr
    assert "→" in completed.stderr
    assert not (tmp_path / "data" / "dossiers").exists()
