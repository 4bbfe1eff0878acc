"""Chunks follow the structure, keep their place in the page, and have stable ids."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings, strategies as st

from assessor.chunking import MIN_PASSAGE_WORDS, chunk_file
from assessor.ingest import load_file
from assessor.ingest.document import FileKind, LoadedFile, Page
from assessor.settings import ChunkSettings
from tiers import examples

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_dossiers"


def loaded(pages: list[str], *, kind: FileKind = FileKind.PDF, sha: str = "ab" * 32) -> LoadedFile:
    return LoadedFile(
        name="dossier.pdf",
        sha256=sha,
        kind=kind,
        size_bytes=1,
        pages=[Page(number=i + 1, label=f"page {i + 1}", text=t) for i, t in enumerate(pages)],
        paged=True,
    )


def check_offsets(file: LoadedFile) -> None:
    pages = {p.number: p.text for p in file.pages}
    for chunk in chunk_file(file):
        if chunk.page_start == chunk.page_end:
            assert pages[chunk.page_start][chunk.char_start : chunk.char_end] == chunk.text
        else:  # one slice per page, from the first unit to the last (skipped lines may follow)
            assert pages[chunk.page_start][chunk.char_start :].startswith(chunk.text.split("\n")[0])
            assert pages[chunk.page_end][: chunk.char_end].endswith(chunk.text.split("\n")[-1])


def test_headings_start_chunks_and_give_the_heading_path() -> None:
    body = "Phrase de contenu assez longue pour dépasser le minimum. " * 6
    file = loaded([f"1. Contexte\n\n1.1 Marché\n{body}\n\n1.2 Clients\n{body}\n\n2. Plan\n{body}"])
    chunks = chunk_file(file, ChunkSettings(target_chars=1400, min_chars=100))
    assert [c.heading_path for c in chunks] == [
        ["1. Contexte", "1.1 Marché"],
        ["1. Contexte", "1.2 Clients"],
        ["2. Plan"],
    ]
    assert chunks[1].text.startswith("1.2 Clients")


def test_lists_and_tables_stay_together() -> None:
    items = "\n".join(f"• élément de liste numéro {i} avec un peu de texte" for i in range(8))
    rows = "\n".join(f"Ligne {i} | valeur {i} | commentaire {i}" for i in range(8))
    intro = "Introduction du passage. " * 20
    file = loaded([f"{intro}\n\n{items}\n\n{rows}"])
    chunks = chunk_file(file, ChunkSettings(target_chars=600, overlap_chars=0, min_chars=100))
    holding_items = [c for c in chunks if "élément de liste" in c.text]
    assert len(holding_items) == 1 and holding_items[0].text.count("•") == 8
    holding_rows = [c for c in chunks if "| valeur" in c.text]
    assert len(holding_rows) == 1 and holding_rows[0].text.count("Ligne ") == 8


def test_table_of_contents_lines_are_not_chunked() -> None:
    toc = "Sommaire\n1. Introduction | 3\n2.1 Le marché . . . . . . . . 4\n2.2 Les clients . . . . . . 5"
    body = "Le marché régional progresse de quatre pour cent par an selon notre étude. " * 5
    file = loaded([toc, f"2.1 Le marché\n{body}"])
    text = "\n".join(c.text for c in chunk_file(file))
    assert ". . . ." not in text and "1. Introduction | 3" not in text
    assert "progresse de quatre pour cent" in text


def test_a_long_paragraph_is_cut_between_sentences() -> None:
    sentence = "Cette phrase décrit une action précise du plan commercial. "
    file = loaded([sentence * 100])
    chunks = chunk_file(file, ChunkSettings(target_chars=500, overlap_chars=0, min_chars=100))
    assert len(chunks) > 5
    assert all(len(c.text) <= 600 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    check_offsets(file)


def test_a_huge_line_without_sentences_is_cut_at_spaces() -> None:
    file = loaded(["mot " * 50_000])
    chunks = chunk_file(file, ChunkSettings(target_chars=1000, overlap_chars=0))
    assert all(len(c.text) <= 1500 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 50_000


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    paragraphs = "\n\n".join(f"Paragraphe {i} : " + "texte " * 20 for i in range(12))
    chunks = chunk_file(loaded([paragraphs]), ChunkSettings(target_chars=400, overlap_chars=150, min_chars=50))
    assert len(chunks) > 2
    for previous, current in itertools.pairwise(chunks):
        assert current.char_start < previous.char_end  # they overlap
        assert current.char_start > previous.char_start  # but each starts later


def test_ids_are_stable_unique_and_derived_from_the_file_and_position() -> None:
    file = load_file(SAMPLES / "activites-b1" / "dossier.pdf")
    first, second = chunk_file(file), chunk_file(file)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert all(c.id.startswith(file.sha256[:12] + "-p") for c in first)
    other = chunk_file(file.model_copy(update={"sha256": "cd" * 32}))
    assert not {c.id for c in other} & {c.id for c in first}


def test_sample_pdf_offsets_point_into_the_page_text() -> None:
    for name in ("omnicanal-b1", "grands-comptes-b1"):
        check_offsets(load_file(SAMPLES / name / "dossier.pdf"))


def test_docx_chunks_are_located_by_section_and_paragraph() -> None:
    chunks = chunk_file(load_file(SAMPLES / "manager-b2" / "dossier.docx"))
    assert all(not c.paged and ", ¶" in c.locator and c.locator.startswith("section ") for c in chunks)


paragraph = st.text(alphabet="abcdéèà ,.;:ABC•|-0123456789", min_size=1, max_size=400)


@settings(max_examples=examples(60), deadline=None)
@given(
    st.lists(st.lists(paragraph, min_size=1, max_size=6), min_size=1, max_size=4),
    st.integers(min_value=200, max_value=1200),
)
def test_any_text_chunks_with_valid_offsets_and_nothing_lost(pages: list[list[str]], target: int) -> None:
    from assessor.ingest.normalize import normalize_text

    texts = [normalize_text("\n\n".join(p)) for p in pages]
    file = loaded(texts)
    chunks = chunk_file(file, ChunkSettings(target_chars=target, overlap_chars=target // 5, min_chars=target // 4))
    check_offsets(file)
    assert len({c.id for c in chunks}) == len(chunks)
    covered = "".join(c.text for c in chunks)
    words = [w for w in " ".join(texts).split() if "." * 4 not in w]
    if len(words) < MIN_PASSAGE_WORDS:
        return  # too little to judge: no passage, which is right
    for word in words:
        assert word.strip("|•-") in covered
