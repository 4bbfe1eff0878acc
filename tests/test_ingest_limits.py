"""Everyday sizes within the documented limits (issue 12, point 7): a text of 1 MB on a single line
is read and cut into passages; long work reports its progress page by page and batch by batch.

The 500-page PDF is in test_bad_inputs.py (``test_cli_500_page_pdf_is_accepted_within_the_default_limit``),
which generates it once for its module; timings are in benchmarks/ingest_limits.py, not here.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assessor.cli import app
from assessor.dossiers import DossierStore
from assessor.ingest import pdf as pdf_module
from assessor.settings import ChunkSettings, IngestSettings, Settings
from test_bad_inputs import french_line, write_image_pdf, write_pdf

runner = CliRunner()
TARGET = ChunkSettings().target_chars


def one_line(path: Path, chars: int, *, sentences: bool = True) -> Path:
    """About ``chars`` characters of French prose and no line break at all."""
    rng = random.Random(chars)
    parts: list[str] = []
    size = 0
    while size < chars:
        line = french_line(rng, 14) if sentences else french_line(rng, 14).lower().rstrip(".")
        parts.append(line)
        size += len(line) + 1
    path.write_text(" ".join(parts), encoding="utf-8")
    return path


def ingest(data: Path, path: Path) -> dict[str, object]:
    result = runner.invoke(app, ["--data-dir", str(data), "ingest", str(path), "--dossier", "long", "--json"])
    assert result.exit_code == 0, result.stderr
    added: dict[str, object] = json.loads(result.stdout)["added"][0]
    return added


def test_a_megabyte_on_one_line_is_read_and_cut_between_sentences(tmp_path: Path) -> None:
    path = one_line(tmp_path / "export.txt", 1_000_000)
    text = path.read_text(encoding="utf-8")
    assert "\n" not in text and len(text) > IngestSettings().max_line_chars // 2
    record = ingest(tmp_path / "data", path)
    assert record["pages"] == 1 and record["warnings"] == []
    chunks = DossierStore(Settings(data_dir=tmp_path / "data")).index.chunks("long")
    assert len(chunks) == record["chunks"] and len(chunks) > len(text) // (2 * TARGET)
    for chunk in chunks:
        assert chunk.text == text[chunk.char_start : chunk.char_end]
        assert len(chunk.text) <= TARGET + 200  # a sentence is about 100 characters
        assert chunk.text[0].isupper() and chunk.text.endswith(".")  # whole sentences
    assert max(c.char_end for c in chunks) == len(text)


def test_a_megabyte_on_one_line_without_sentence_ends_is_cut_between_words(tmp_path: Path) -> None:
    path = one_line(tmp_path / "export.txt", 1_000_000, sentences=False)
    text = path.read_text(encoding="utf-8")
    assert "." not in text
    record = ingest(tmp_path / "data", path)
    chunks = DossierStore(Settings(data_dir=tmp_path / "data")).index.chunks("long")
    assert len(chunks) == record["chunks"] and len(chunks) > len(text) // (2 * TARGET)
    words = set(text.split())
    for chunk in chunks:
        assert len(chunk.text) <= TARGET * 3 // 2
        assert set(chunk.text.split()) <= words  # no word cut in two
        assert re.fullmatch(r"\S.*\S", chunk.text)


Event = tuple[str, int, int]


def stage(events: list[Event], name: str) -> list[tuple[int, int]]:
    return [(done, total) for label, done, total in events if label == name]


def test_reading_chunking_and_indexing_report_their_progress(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "dossier.pdf", 12)
    text = one_line(tmp_path / "notes.txt", 100_000)
    events: list[Event] = []
    store = DossierStore(Settings(data_dir=tmp_path / "data"))
    report = store.ingest("p", [pdf, text], progress=lambda *event: events.append(event))
    assert stage(events, "lecture de dossier.pdf") == [(page, 12) for page in range(1, 13)]
    assert stage(events, "lecture") == [(1, 2), (2, 2)]
    assert stage(events, "découpage") == [(1, 2), (2, 2)]
    indexed = stage(events, "indexation")
    total = report.dossier.chunk_count
    assert len(indexed) >= total // 32 and indexed[-1] == (total, total)
    assert [done for done, _ in indexed] == sorted({done for done, _ in indexed})  # it only moves forward
    assert [label for label, _, _ in events].index("découpage") > [label for label, _, _ in events].index("lecture")


def test_scanned_pages_read_by_ocr_report_their_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_module, "tesseract_status", lambda: None)
    monkeypatch.setattr(pdf_module, "ocr_pdf_page", lambda data, index: f"Texte de la page {index + 1} lu par OCR.")
    path = write_image_pdf(tmp_path / "scan.pdf", 3, text_pages=(1,))
    events: list[Event] = []
    in_process = IngestSettings(isolate=False)  # the patched OCR lives in this process, not in a worker
    report = DossierStore(Settings(data_dir=tmp_path / "data", ingest=in_process)).ingest(
        "s", [path], progress=lambda *event: events.append(event)
    )
    assert report.added[0].ocr_pages == [2, 3]
    assert stage(events, "lecture de scan.pdf") == [(1, 3), (2, 3), (3, 3)]
    assert stage(events, "OCR de scan.pdf") == [(1, 2), (2, 2)]


def test_reindexing_under_new_settings_reports_its_progress(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "dossier.pdf", 4)
    DossierStore(Settings(data_dir=tmp_path / "data")).ingest("r", [pdf])
    events: list[Event] = []
    store = DossierStore(Settings(data_dir=tmp_path / "data", chunking=ChunkSettings(target_chars=600)))
    store.retriever("r", progress=lambda *event: events.append(event))
    assert stage(events, "lecture de dossier.pdf") == [(page, 4) for page in range(1, 5)]
    assert stage(events, "indexation")[-1] == (store.index.count("r"),) * 2  # not the count of other settings
