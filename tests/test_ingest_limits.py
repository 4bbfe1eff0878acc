"""Everyday sizes within the documented limits (issue 12, point 7): a text of 1 MB on a single line
is read and cut into passages.

The 500-page PDF is in test_bad_inputs.py (``test_cli_500_page_pdf_is_accepted_within_the_default_limit``),
which generates it once for its module; timings are in benchmarks/ingest_limits.py, not here.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from typer.testing import CliRunner

from assessor.chunking import ChunkSettings
from assessor.cli import app
from assessor.dossiers import DossierStore
from assessor.ingest import IngestSettings
from assessor.settings import Settings
from test_bad_inputs import french_line

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
