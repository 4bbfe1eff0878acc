"""Text and Markdown files: the encoding recognised, the text decoded, binary content refused.

Files from Windows are often not in UTF-8. The order of the guesses:

1. a byte order mark: UTF-8 or UTF-16;
2. valid UTF-8 (ASCII included);
3. UTF-8 with a few damaged bytes (it holds UTF-8 sequences of French letters such as « é »):
   read, the damaged bytes replaced by « � » and their lines named;
4. Windows-1252, when bytes 0x80–0x9F are present: there they are typographic characters
   (’ « œ € … –), which Latin-1 would read as invisible control codes;
5. Latin-1 (ISO-8859-1) otherwise, where it reads the same as Windows-1252.

Any encoding other than UTF-8 earns a French note for the ingest summary. Content with control
codes where text has none is refused as binary.
"""

from __future__ import annotations

import codecs
import re

from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.wording import counted

# UTF-8 encodings of what French text is made of: é è à ç… (C3 xx), œ Œ (C5 92/93), ’ “ ” – — … (E2 80 xx).
# Windows-1252 text almost never holds these byte pairs (« Ã » followed by a symbol), UTF-8 text nearly always.
_UTF8_FRENCH = re.compile(rb"\xc3[\x80-\xbf]|\xc5[\x92\x93]|\xe2\x80[\x93-\xa6]")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
# Control codes text never holds (tab, line feed, vertical tab, form feed and carriage return are layout).
_CONTROLS = "[\x00-\x08\x0e-\x1f\x7f]"
_CONTROL_TEXT = re.compile(_CONTROLS)
_CONTROL_BYTES = re.compile(_CONTROLS.encode())
_MAX_CONTROL_SHARE = 0.01
_DAMAGED_LINES_SHOWN = 5
_REPLACED = "\ufffd"


def decode_text(name: str, data: bytes) -> tuple[str, list[str]]:
    """The file's text and French notes on how it was decoded; ``IngestError`` for binary content."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(name, data, "utf-16", "UTF-16")
        _refuse_binary(name, len(_CONTROL_TEXT.findall(text)), len(text))
        return text, [_converted("UTF-16")]
    _refuse_binary(name, len(_CONTROL_BYTES.findall(data)), len(data))
    marked = data.startswith(codecs.BOM_UTF8)
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    if marked or _UTF8_FRENCH.search(body):
        return _damaged_utf8(body)
    if not _C1_BYTES.search(data):
        return data.decode("latin-1"), [_converted("Latin-1 (ISO-8859-1)")]
    try:
        return data.decode("cp1252"), [_converted("Windows-1252")]
    except UnicodeDecodeError as exc:
        # 0x81, 0x8D, 0x8F, 0x90 and 0x9D mean nothing in Windows-1252: another code page (DOS, Mac…).
        raise IngestError(
            IngestErrorCode.UNKNOWN_ENCODING,
            name,
            f"l'encodage du texte n'est pas reconnu (ni UTF-8, ni Windows-1252, ni Latin-1 : octet "
            f"0x{data[exc.start]:02X} à la position {exc.start}).",
            "Ouvrez le fichier dans un éditeur de texte et enregistrez-le en UTF-8, ou convertissez-le : "
            f"iconv -f ENCODAGE_D_ORIGINE -t UTF-8 « {name} » > copie.txt",
        ) from exc


def _refuse_binary(name: str, controls: int, total: int) -> None:
    if controls > _MAX_CONTROL_SHARE * total:
        raise IngestError(
            IngestErrorCode.UNSUPPORTED,
            name,
            f"ce fichier n'est pas du texte lisible : {controls} de ses {total} caractères sont des codes "
            "de contrôle (fichier binaire ?).",
            "Fournissez le document d'origine (PDF, DOCX), ou ouvrez ce fichier dans un éditeur de texte "
            "et enregistrez-le en UTF-8.",
        )


def _strict(name: str, data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise IngestError(
            IngestErrorCode.UNKNOWN_ENCODING,
            name,
            f"le texte s'annonce en {label} (marque d'ordre des octets) mais ne l'est pas "
            f"(octet invalide à la position {exc.start}) : fichier tronqué ou abîmé ?",
            "Enregistrez-le à nouveau en UTF-8 depuis votre éditeur, ou demandez une nouvelle copie au candidat.",
        ) from exc


def _damaged_utf8(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 with a few invalid bytes (a bad copy, or pieces in another encoding): keep the text, say where."""
    text = data.decode("utf-8", errors="replace")
    lines = [number for number, line in enumerate(text.split("\n"), start=1) if _REPLACED in line]
    shown = ", ".join(map(str, lines[:_DAMAGED_LINES_SHOWN])) + (" …" if len(lines) > _DAMAGED_LINES_SHOWN else "")
    where = f"{'ligne' if len(lines) == 1 else 'lignes'} {shown}"
    return text, [
        f"texte en UTF-8 abîmé : {counted(text.count(_REPLACED), 'caractère illisible remplacé')} par "
        f"« {_REPLACED} » ({where}) ; vérifiez ces passages dans le fichier d'origine"
    ]


def _converted(label: str) -> str:
    return f"encodage détecté : {label}, converti en UTF-8"


def check_line_length(name: str, text: str, max_line_chars: int) -> None:
    """Refuse a text whose longest line is over the limit (``ingest.max_line_chars``)."""
    longest = max((len(line) for line in text.split("\n")), default=0)
    if longest > max_line_chars:
        raise IngestError(
            IngestErrorCode.LINE_TOO_LONG,
            name,
            f"une ligne compte {thousands(longest)} caractères sans retour à la ligne, au-delà de la "
            f"limite de {thousands(max_line_chars)} : ce n'est sans doute pas un texte rédigé "
            "(export automatique, données ?).",
            "Fournissez le document d'origine (PDF ou DOCX), ou un texte découpé en paragraphes ; "
            "la limite se règle avec ASSESSOR_INGEST__MAX_LINE_CHARS.",
        )


def thousands(number: int) -> str:
    """« 2 000 000 »: French grouping of digits."""
    return f"{number:,}".replace(",", " ")
