"""A dossier's PDF page rendered as an image, with the quoted words highlighted.

The jury reads a quote in its context: the page as the candidate laid it out. The quote is
located in the page's own text layer with the same matching rules as citation verification
(``citations.verify_quote``), and each character's box is painted over in translucent yellow,
extract by extract for a quote cut by an ellipsis; a quote that is not verified there is not
highlighted.
Renders are cached as PNG files under the data folder, keyed by file, page and quote.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from assessor.atomic import write_atomic
from assessor.citations import verify_quote

SCALE = 1.6  # about 115 dpi: the page's text stays readable in a half-width panel
HIGHLIGHT = (255, 214, 0, 110)
MATCHING = "exact-words"
"""Part of a render's cache key: renders made under earlier matching rules are not reused."""


def _boxes(textpage: pdfium.PdfTextPage, start: int, end: int) -> list[tuple[float, float, float, float]]:
    """One box per line of the quoted characters, in PDF points (origin bottom left)."""
    lines: list[list[float]] = []
    for index in range(start, end):
        left, bottom, right, top = textpage.get_charbox(index)
        if right - left <= 0 or top - bottom <= 0:
            continue
        if lines and abs(lines[-1][1] - bottom) < 3 and left >= lines[-1][0] - 1:
            line = lines[-1]
            line[0], line[1], line[2], line[3] = (
                min(line[0], left),
                min(line[1], bottom),
                max(line[2], right),
                max(line[3], top),
            )
        else:
            lines.append([left, bottom, right, top])
    return [(a, b, c, d) for a, b, c, d in lines]


def render_page(pdf: Path, page_number: int, quote: str | None, cache: Path) -> Path | None:
    """The PNG of page ``page_number`` (1-based) with ``quote`` highlighted; None if there is no such page."""
    key = hashlib.sha256(f"{pdf.name}|{page_number}|{quote or ''}|{SCALE}|{MATCHING}".encode()).hexdigest()[:32]
    target = cache / f"{key}.png"
    if target.exists():
        return target
    document = pdfium.PdfDocument(pdf)
    try:
        if not 1 <= page_number <= len(document):
            return None
        page = document[page_number - 1]
        image = page.render(scale=SCALE).to_pil().convert("RGBA")
        if quote:
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            spans = verify_quote(quote, text).spans if len(text) == textpage.count_chars() else ()
            if spans:
                height = page.get_height()
                overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
                draw = ImageDraw.Draw(overlay)
                for start, end in spans:  # one span per extract of a quote cut by « […] »
                    for left, bottom, right, top in _boxes(textpage, start, end):
                        draw.rectangle(
                            (
                                left * SCALE - 2,
                                (height - top) * SCALE - 2,
                                right * SCALE + 2,
                                (height - bottom) * SCALE + 2,
                            ),
                            fill=HIGHLIGHT,
                        )
                image = Image.alpha_composite(image, overlay)
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG", optimize=False)
        write_atomic(target, png.getvalue())  # two requests for one page never share a temporary file
        return target
    finally:
        document.close()
