"""Hostile files, generated on demand (nothing binary is committed): archive and stream bombs,
oversized inputs and YAML alias bombs, for tests/test_hostile.py and benchmarks/hostile.py.

Each generator writes one file and returns its path. Sizes are parameters, so that the tests use
small bombs that still cross the limits and the benchmark uses the sizes of the issue.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import docx

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_PARAGRAPH = "<w:p><w:r><w:t>Le candidat a conduit un entretien de découverte avec le client.</w:t></w:r></w:p>"


def _docx_parts() -> dict[str, bytes]:
    """The parts of a valid one-paragraph DOCX made by python-docx."""
    document = docx.Document()
    document.add_paragraph("Le candidat a conduit un entretien de découverte.")
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def docx_bomb(path: Path, *, xml_mb: float = 64) -> Path:
    """A DOCX whose document.xml decompresses to ``xml_mb`` MB of paragraphs (a few hundred kB zipped)."""
    parts = _docx_parts()
    count = int(xml_mb * 1_000_000) // len(_PARAGRAPH.encode())
    body = _PARAGRAPH * count
    parts["word/document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{_W}"><w:body>'
        f"{body}</w:body></w:document>"
    ).encode()
    return _write_zip(path, parts)


def docx_many_entries(path: Path, *, entries: int = 30_000) -> Path:
    """A valid DOCX padded with ``entries`` tiny parts nothing refers to."""
    parts = _docx_parts()
    parts.update({f"customXml/item{i}.xml": b"<a/>" for i in range(entries)})
    return _write_zip(path, parts)


def docx_path_tricks(path: Path) -> Path:
    """A valid DOCX that also holds entries named ``../../evil.txt`` and ``/etc/evil``."""
    parts = _docx_parts()
    parts["../../evil.txt"] = b"pwned"
    parts["/etc/evil"] = b"pwned"
    return _write_zip(path, parts)


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF from its numbered objects (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_stream_bomb(path: Path, *, content_mb: float = 100) -> Path:
    """One page whose content stream inflates to ``content_mb`` MB of text-drawing operators."""
    line = b"BT /F1 9 Tf 40 700 Td (Le candidat a conduit un entretien de decouverte.) Tj ET\n"
    content = line * (int(content_mb * 1_000_000) // len(line))
    path.write_bytes(
        _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
                b"/Contents 4 0 R >>",
                _stream(content),
                _FONT,
            ]
        )
    )
    return path


def pdf_many_pages(path: Path, *, pages: int = 20_000) -> Path:
    """``pages`` pages sharing one small content stream: a tiny file that claims a huge document."""
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        _stream(b"BT /F1 11 Tf 60 780 Td (Page du dossier du candidat, texte de remplissage.) Tj ET\n"),
        _FONT,
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 3 0 R >>"
    )
    objects += [page] * pages
    path.write_bytes(_pdf(objects))
    return path


def big_text(path: Path, *, mb: float = 60) -> Path:
    """``mb`` MB of French prose in paragraphs: under the size limit, far over any real dossier."""
    paragraph = (
        "Le candidat a conduit un entretien de découverte avec le client pour analyser ses besoins, "
        "puis il a proposé une offre adaptée au budget et relancé le prospect après la démonstration.\n\n"
    )
    count = int(mb * 1_000_000) // len(paragraph.encode())
    with path.open("w", encoding="utf-8") as handle:
        for number in range(count):
            handle.write(f"{number} {paragraph}")
    return path


def _alias_levels(levels: int, width: int) -> list[str]:
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return lines


def yaml_alias_bomb(path: Path, *, levels: int = 9, width: int = 9) -> Path:
    """A référentiel whose block description is nested aliases that expand to ``width ** levels`` strings."""
    lines = ["id: bombe", 'title: "Référentiel piégé"', 'version: "1"', *_alias_levels(levels, width)]
    lines += ["blocks:", "  - code: B1", '    title: "Bloc"', f"    description: *l{levels}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def users_alias_bomb(path: Path, *, levels: int = 9, width: int = 9) -> Path:
    """A users file whose display name is nested aliases that expand to ``width ** levels`` strings."""
    lines = [*_alias_levels(levels, width), "users:", "  - username: alice", f"    display_name: *l{levels}"]
    lines += ["    role: jury", '    password_hash: "x"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
