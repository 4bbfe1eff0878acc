"""Optional OCR of scanned PDF pages with Debian's tesseract and its French data.

Install with ``apt-get install tesseract-ocr tesseract-ocr-fra``. Without it, scanned pages
are reported as unreadable, page by page; nothing is guessed.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

OCR_DPI = 300
OCR_TIMEOUT_S = 120


@functools.cache
def tesseract_status() -> str | None:
    """None when tesseract with French is usable, otherwise why not (in French)."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "tesseract n'est pas installé (apt-get install tesseract-ocr tesseract-ocr-fra)"
    try:
        langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"tesseract ne répond pas ({exc})"
    if "fra" not in langs.stdout.split():
        return "les données françaises de tesseract manquent (apt-get install tesseract-ocr-fra)"
    return None


def ocr_pdf_page(pdf_bytes: bytes, page_index: int) -> str:
    """Render one page at 300 dpi and read it with tesseract in French."""
    import pypdfium2 as pdfium  # imported here: only OCR needs the renderer

    document = pdfium.PdfDocument(pdf_bytes)
    try:
        image = document[page_index].render(scale=OCR_DPI / 72).to_pil()
    finally:
        document.close()
    with tempfile.TemporaryDirectory(prefix="assessor-ocr-") as tmp:
        png = Path(tmp) / "page.png"
        image.save(png)
        result = subprocess.run(
            ["tesseract", str(png), "stdout", "-l", "fra", "--psm", "3"],
            capture_output=True,
            text=True,
            timeout=OCR_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"tesseract exited with {result.returncode}")
    return result.stdout
