"""Recognising a file's real type from its bytes, and refusing what Assessor cannot read."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from assessor.ingest.document import FileKind
from assessor.ingest.errors import IngestError, IngestErrorCode

EXTENSIONS: dict[str, FileKind] = {
    ".pdf": FileKind.PDF,
    ".docx": FileKind.DOCX,
    ".md": FileKind.MARKDOWN,
    ".markdown": FileKind.MARKDOWN,
    ".txt": FileKind.TEXT,
    ".text": FileKind.TEXT,
}
SUPPORTED = "PDF (.pdf), Word (.docx), Markdown (.md) ou texte (.txt)"

# Formats people send that Assessor does not read, with what to do instead.
_KNOWN_BINARIES: list[tuple[bytes, str, str]] = [
    (
        b"\xd0\xcf\x11\xe0",
        "un document Word 97-2003 (.doc) ou un autre fichier Office ancien",
        "Ouvrez-le dans Word ou LibreOffice et enregistrez-le en .docx ou en PDF.",
    ),
    (
        b"\x89PNG",
        "une image PNG",
        "Insérez l'image dans un PDF (l'OCR lira les pages scannées si tesseract est installé).",
    ),
    (
        b"\xff\xd8\xff",
        "une image JPEG",
        "Insérez l'image dans un PDF (l'OCR lira les pages scannées si tesseract est installé).",
    ),
    (b"GIF8", "une image GIF", "Convertissez-la en PDF."),
    (b"{\\rtf", "un document RTF", "Enregistrez-le en .docx ou en PDF."),
]
_ZIP_FORMATS = {
    "xl/": ("un classeur Excel (.xlsx)", "Exportez les tableaux utiles en PDF et joignez-les au dossier."),
    "ppt/": ("une présentation PowerPoint (.pptx)", "Exportez-la en PDF."),
    "content.xml": ("un document OpenDocument (.odt, .ods, .odp)", "Enregistrez-le en .docx ou en PDF."),
}


def sniff(path: Path, head: bytes) -> FileKind:
    """The kind of file ``path`` really is, or an ``IngestError`` that says what to do."""
    name = path.name
    claimed = EXTENSIONS.get(path.suffix.lower())
    if b"%PDF-" in head[:1024]:
        actual = FileKind.PDF
    elif head.startswith(b"PK\x03\x04"):
        actual = _zip_kind(path)
    else:
        for magic, what, hint in _KNOWN_BINARIES:
            if head.startswith(magic):
                raise IngestError(IngestErrorCode.UNSUPPORTED, name, f"ce fichier est {what}.", hint)
        # UTF-16 text is half zero bytes; its byte order mark tells it from binary data.
        if b"\x00" in head[:8192] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise IngestError(
                IngestErrorCode.UNSUPPORTED,
                name,
                "ce fichier est binaire et n'est pas un format reconnu.",
                f"Formats acceptés : {SUPPORTED}.",
            )
        actual = claimed if claimed in (FileKind.MARKDOWN, FileKind.TEXT) else FileKind.TEXT
    if claimed is None:
        if actual in (FileKind.PDF, FileKind.DOCX):
            return actual  # no or unknown extension, but unambiguous content
        raise IngestError(
            IngestErrorCode.UNSUPPORTED,
            name,
            f"l'extension « {path.suffix or '(aucune)'} » n'est pas prise en charge.",
            f"Formats acceptés : {SUPPORTED}. Si c'est du texte, renommez-le en .txt.",
        )
    textual = {FileKind.MARKDOWN, FileKind.TEXT}
    if claimed != actual and not (claimed in textual and actual in textual):
        raise IngestError(
            IngestErrorCode.EXTENSION_MISMATCH,
            name,
            f"l'extension annonce {_label(claimed)} mais le contenu est {_label(actual)}.",
            f"Renommez le fichier avec l'extension {_extension(actual)} (ou ré-exportez-le au bon format).",
        )
    return actual


def _zip_kind(path: Path) -> FileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        if path.suffix.lower() == ".docx":
            raise IngestError(
                IngestErrorCode.DOCX_CORRUPT,
                path.name,
                "le document Word est endommagé ou tronqué (son archive zip est illisible).",
                "Ré-enregistrez le document depuis Word ou LibreOffice, ou exportez-le en PDF.",
            ) from exc
        raise IngestError(
            IngestErrorCode.UNSUPPORTED,
            path.name,
            "ce fichier est une archive zip endommagée, pas un document lisible.",
            f"Fournissez le document lui-même ({SUPPORTED}).",
        ) from exc
    if "word/document.xml" in names:
        return FileKind.DOCX
    for marker, (what, hint) in _ZIP_FORMATS.items():
        if any(n.startswith(marker) or n == marker for n in names):
            raise IngestError(IngestErrorCode.UNSUPPORTED, path.name, f"ce fichier est {what}.", hint)
    raise IngestError(
        IngestErrorCode.UNSUPPORTED,
        path.name,
        "ce fichier est une archive zip, pas un document.",
        f"Décompressez-la et ajoutez les documents qu'elle contient ({SUPPORTED}).",
    )


def _label(kind: FileKind) -> str:
    return {
        FileKind.PDF: "un PDF",
        FileKind.DOCX: "un document Word (.docx)",
        FileKind.MARKDOWN: "du Markdown",
        FileKind.TEXT: "du texte",
    }[kind]


def _extension(kind: FileKind) -> str:
    return {FileKind.PDF: ".pdf", FileKind.DOCX: ".docx", FileKind.MARKDOWN: ".md", FileKind.TEXT: ".txt"}[kind]
