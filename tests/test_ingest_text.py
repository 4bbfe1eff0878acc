"""Text and Markdown files in everyday encodings (issue 12, point 7): Windows-1252, Latin-1 and UTF-16
are read with a French note of the encoding; only what is not text is refused."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import assume, given, strategies as st
from typer.testing import CliRunner

from assessor.cli import app, common
from assessor.ingest import IngestError, IngestErrorCode, load_file
from assessor.ingest.document import FileKind
from assessor.ingest.text import decode_text

NOTES = (
    "Synthèse : le candidat a négocié l’échéancier, présenté le devis « remise fidélité » à l’acheteur.\n"
    "Écart de prix : 5 € par unité — accepté après relance ; cœur de cible : les PME.\n"
)
PLAIN = "Synthèse : le candidat a négocié l'échéancier à Noël, présenté le devis à l'acheteur.\n"


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_windows_1252_text_is_read_with_a_note(tmp_path: Path) -> None:
    loaded = load_file(written(tmp_path, "notes.txt", NOTES.encode("cp1252")))
    assert loaded.pages[0].text == NOTES.strip()
    assert loaded.warnings == ["encodage détecté : Windows-1252, converti en UTF-8"]


@pytest.mark.parametrize(
    "command",
    [["ingest", "--dossier", "d"], ["assess", "--referential", "grands-comptes", "--block", "B1"]],
    ids=["ingest", "assess"],
)
def test_the_ingest_summary_names_the_encoding(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common.console, "width", 400)  # the console's width was fixed when it was made
    path = written(tmp_path, "notes.txt", NOTES.encode("cp1252"))
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), command[0], str(path), *command[1:]], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.stderr
    assert "encodage détecté : Windows-1252, converti en UTF-8" in result.stdout


def test_latin_1_text_is_read_with_a_note(tmp_path: Path) -> None:
    loaded = load_file(written(tmp_path, "notes.txt", PLAIN.encode("latin-1")))
    assert loaded.pages[0].text == PLAIN.strip()
    assert loaded.warnings == ["encodage détecté : Latin-1 (ISO-8859-1), converti en UTF-8"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf_16_with_a_byte_order_mark_is_read_with_a_note(tmp_path: Path, codec: str) -> None:
    bom = codecs.BOM_UTF16_BE if codec == "utf-16-be" else b""  # Python's "utf-16" writes its own mark
    loaded = load_file(written(tmp_path, "notes.txt", bom + NOTES.encode(codec)))
    assert loaded.pages[0].text == NOTES.strip()
    assert loaded.warnings == ["encodage détecté : UTF-16, converti en UTF-8"]


def test_utf_8_with_or_without_a_byte_order_mark_gets_no_note(tmp_path: Path) -> None:
    for data in (NOTES.encode("utf-8"), codecs.BOM_UTF8 + NOTES.encode("utf-8")):
        loaded = load_file(written(tmp_path, "notes.txt", data))
        assert loaded.pages[0].text == NOTES.strip() and loaded.warnings == []


def test_a_windows_1252_markdown_file_keeps_its_structure(tmp_path: Path) -> None:
    loaded = load_file(written(tmp_path, "dossier.md", ("# Activité 1\n\n" + NOTES).encode("cp1252")))
    assert loaded.kind is FileKind.MARKDOWN
    assert loaded.pages[0].text.startswith("# Activité 1\n\nSynthèse")
    assert loaded.warnings == ["encodage détecté : Windows-1252, converti en UTF-8"]


def test_damaged_utf_8_is_read_and_the_damaged_lines_are_named(tmp_path: Path) -> None:
    """A UTF-8 file with a pasted Windows-1252 word: not mistaken for Windows-1252 as a whole."""
    data = NOTES.encode("utf-8") + "Prix négocié.\n".encode("cp1252") + NOTES.encode("utf-8")
    loaded = load_file(written(tmp_path, "notes.txt", data))
    text = loaded.pages[0].text
    assert "l’échéancier" in text and "Prix n\ufffdgoci\ufffd." in text
    assert loaded.warnings == [
        "texte en UTF-8 abîmé : 2 caractères illisibles remplacés par « \ufffd » (ligne 3) ; "
        "vérifiez ces passages dans le fichier d'origine"
    ]


def test_an_unknown_code_page_is_refused_with_what_to_do(tmp_path: Path) -> None:
    # A file from a DOS program (code page 850): « ü » is 0x81, which means nothing in Windows-1252.
    path = written(tmp_path, "ancien.txt", "Le candidat a mené la réunion avec M. Müller.\n".encode("cp850"))
    with pytest.raises(IngestError) as caught:
        load_file(path)
    assert caught.value.code is IngestErrorCode.UNKNOWN_ENCODING
    assert "ni UTF-8, ni Windows-1252, ni Latin-1 : octet 0x81" in caught.value.message
    assert "enregistrez-le en UTF-8" in caught.value.hint and "iconv" in caught.value.hint


def test_control_codes_without_a_nul_byte_are_refused_as_binary(tmp_path: Path) -> None:
    data = bytes(range(1, 32)) * 40 + PLAIN.encode("utf-8")
    with pytest.raises(IngestError) as caught:
        load_file(written(tmp_path, "export.txt", data))
    assert caught.value.code is IngestErrorCode.UNSUPPORTED
    assert "codes de contrôle" in caught.value.message and "UTF-8" in caught.value.hint


def test_a_damaged_utf_16_file_is_refused(tmp_path: Path) -> None:
    data = NOTES.encode("utf-16")[:-1]  # an odd number of bytes: the last character is cut
    with pytest.raises(IngestError) as caught:
        load_file(written(tmp_path, "notes.txt", data))
    assert caught.value.code is IngestErrorCode.UNKNOWN_ENCODING
    assert "s'annonce en UTF-16" in caught.value.message


# French letters and Windows-1252 typography. « â » is left out: « â€“ » (â, €, –) are the bytes of
# « – » in UTF-8, so such a Windows-1252 text would be read as damaged UTF-8; French never writes it.
_FRENCH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\néèêëàçîïôùûüÿÉÈÀÇÔœŒæ’‘“”«»€–—…°"


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.text(alphabet=_FRENCH, min_size=1, max_size=400))
def test_windows_1252_and_latin_1_texts_decode_to_what_was_written(text: str) -> None:
    data = text.encode("cp1252")
    # « ÇŒ » (C7 8C) or « É« » (C9 AB) are also valid UTF-8 (« ǌ », « ɫ »): such bytes are read as
    # UTF-8, which they are more likely to be; French prose rarely puts those pairs side by side.
    assume(text.isascii() or not _valid_utf8(data))
    decoded, notes = decode_text("notes.txt", data)
    assert decoded == text
    if text.isascii():
        assert notes == []
    else:
        assert notes and notes[0].startswith("encodage détecté : ")
        assert ("Windows-1252" in notes[0]) == any(0x80 <= b <= 0x9F for b in text.encode("cp1252"))
