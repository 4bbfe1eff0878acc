"""Criterion -> ranked evidence passages of a dossier.

Lexical retrieval is BM25 (bm25s) over French-analysed chunks, fused by reciprocal ranks
with BM25 over whole pages (a passage on a page about the criterion climbs). When the index
has a dense model, its ranking is fused with the lexical one by weighted reciprocal rank
fusion. The query for a criterion is its text and group heading, with the statements of the
competencies it assesses and the productions expected by their modality as lower-weighted
context. Results are diversified: at most ``max_per_page`` passages from one page, and no
passage that mostly overlaps one already chosen, unless nothing else is left. When the other
criteria of the block are given, a passage that matches them all as well (an introduction,
a conclusion) is discounted: a criterion's evidence should be specific to it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from assessor.analysis import analyze
from assessor.chunking import Chunk
from assessor.index import ChunkIndex
from assessor.referential import Criterion
from assessor.settings import RetrievalMode, RetrievalSettings

if TYPE_CHECKING:  # bm25s brings SciPy: both are loaded when a dossier is searched, not at start-up
    import bm25s
    import numpy as np

    Scores = np.ndarray[tuple[int], np.dtype[np.float64]]


class Passage(BaseModel):
    """A retrieved chunk with how each ranking saw it."""

    model_config = ConfigDict(extra="forbid")

    chunk: Chunk
    score: float = Field(description="The final score (RRF when fused, BM25 or cosine otherwise).")
    rank: int = Field(ge=1)
    lexical_score: float | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    dense_rank: int | None = None


class Query(BaseModel):
    """What is searched: a main text, and context that counts for less in lexical scoring."""

    model_config = ConfigDict(extra="forbid")

    text: str
    context: str = ""

    @property
    def full(self) -> str:
        return f"{self.text}\n{self.context}" if self.context else self.text


def criterion_query(criterion: Criterion) -> Query:
    """The query for a criterion: its text and group heading, with its competencies and the
    expected productions as context."""
    text = "\n".join([criterion.text, *([criterion.group] if criterion.group else [])])
    return Query(text=text, context="\n".join([*criterion.competency_statements, *criterion.productions]))


def _overlap(a: Chunk, b: Chunk) -> float:
    """Share of the shorter chunk covered by the other (same file and page only)."""
    if a.file != b.file or a.page_start != b.page_start or a.page_end != b.page_end:
        return 0.0
    inter = min(a.char_end, b.char_end) - max(a.char_start, b.char_start)
    shorter = min(a.char_end - a.char_start, b.char_end - b.char_start) or 1
    return max(0, inter) / shorter


class Retriever:
    """Searches one dossier. Build it once per dossier: it holds the BM25 index in memory."""

    def __init__(
        self,
        index: ChunkIndex,
        dossier_id: str,
        settings: RetrievalSettings | None = None,
        *,
        files: Collection[str] | None = None,
    ) -> None:
        """``files``: the sha256 of the files the dossier's manifest lists; chunks of any other file
        (left by a run killed before its manifest) are not searched."""
        self.index = index
        self.dossier_id = dossier_id
        self.settings = settings or RetrievalSettings()
        self.chunks = [c for c in index.chunks(dossier_id) if files is None or c.file_sha256 in files]
        self._by_id = {c.id: i for i, c in enumerate(self.chunks)}
        import bm25s

        self._cache: dict[str, Scores] = {}  # lexical scores per criterion id, for siblings
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        # A second, coarser index: one document per page (chunks grouped by their first page).
        self._pages = sorted({(c.file, c.page_start) for c in self.chunks})
        page_of = {page: i for i, page in enumerate(self._pages)}
        self._chunk_page = [page_of[(c.file, c.page_start)] for c in self.chunks]
        self._page_bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if self.chunks:
            tokens = [analyze(c.index_text) or [""] for c in self.chunks]
            self._bm25.index(tokens, show_progress=False)
            page_tokens: list[list[str]] = [[] for _ in self._pages]
            for pos, chunk_tokens in enumerate(tokens):
                page_tokens[self._chunk_page[pos]] += chunk_tokens
            self._page_bm25.index(page_tokens, show_progress=False)

    @property
    def mode(self) -> RetrievalMode:
        if self.settings.mode is RetrievalMode.AUTO:
            return RetrievalMode.FUSED if self.index.embedder.dense else RetrievalMode.LEXICAL
        return self.settings.mode

    @staticmethod
    def _scores(index: bm25s.BM25, size: int, text: str) -> Scores:
        import numpy as np

        tokens = [t for t in analyze(text) if t in index.vocab_dict]
        if not tokens or not size:
            return np.zeros(size)
        return np.asarray(index.get_scores(tokens), dtype=np.float64)

    def _weighted(self, index: bm25s.BM25, size: int, query: Query) -> Scores:
        scores = self._scores(index, size, query.text)
        if query.context:
            scores = scores + self.settings.context_weight * self._scores(index, size, query.context)
        return scores

    def _ranks(self, scores: Scores) -> Scores:
        import numpy as np

        ranks = np.empty(len(scores))
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
        return ranks

    def lexical_scores(self, query: Query) -> Scores:
        """One score per chunk, 0 where no query term occurs.

        Chunk-level BM25 is fused (reciprocal ranks) with the BM25 rank of the chunk's page,
        weighted by ``page_weight``: a passage on a page that is about the criterion as a
        whole climbs, which helps when the evidence paraphrases the criterion."""
        import numpy as np

        scores = self._weighted(self._bm25, len(self.chunks), query)
        if self.settings.page_weight and self._pages:
            page_rank = self._ranks(self._weighted(self._page_bm25, len(self._pages), query))
            k = self.settings.rrf_k
            fused = 1.0 / (k + self._ranks(scores)) + self.settings.page_weight / (k + page_rank[self._chunk_page])
            scores = np.where(scores > 0, fused, 0.0)
        return scores

    def lexical(self, query: Query, others: Scores | None = None) -> list[tuple[int, float]]:
        """(chunk position, score) for chunks sharing a term with the query, best first.

        ``others``: the mean lexical scores of the other criteria of the block. A passage that
        matches them all as well as this one (an introduction, a conclusion) is less likely to
        be this criterion's evidence: its rank after subtracting ``specificity_weight`` times
        that mean is fused (reciprocal ranks) with its plain rank."""
        import numpy as np

        scores = self.lexical_scores(query)
        tie_break = np.zeros(len(scores))
        if others is not None and self.settings.specificity_weight:
            specific = scores - self.settings.specificity_weight * others
            k = self.settings.rrf_k
            scores = np.where(scores > 0, 1.0 / (k + self._ranks(scores)) + 1.0 / (k + self._ranks(specific)), 0.0)
            tie_break = -specific  # equal fused scores: the more specific passage first
        order = np.lexsort((tie_break, -scores))[: self.settings.candidates]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def dense(self, query: Query) -> list[tuple[int, float]]:
        """(chunk position, cosine similarity), best first."""
        vector = self.index.embedder.embed_query(query.full)
        hits = self.index.query(self.dossier_id, vector, min(self.settings.candidates, len(self.chunks)))
        return [(self._by_id[cid], score) for cid, score in hits if cid in self._by_id]

    def search(
        self,
        query: str | Query,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        *,
        others: Scores | None = None,
    ) -> list[Passage]:
        """The k best passages for a free-text query or a criterion's query."""
        query = Query(text=query) if isinstance(query, str) else query
        k = k or self.settings.k
        mode = mode or self.mode
        lexical = self.lexical(query, others) if mode in (RetrievalMode.LEXICAL, RetrievalMode.FUSED) else []
        dense = self.dense(query) if mode in (RetrievalMode.DENSE, RetrievalMode.FUSED) else []
        lex = {pos: (rank, score) for rank, (pos, score) in enumerate(lexical, start=1)}
        den = {pos: (rank, score) for rank, (pos, score) in enumerate(dense, start=1)}
        if mode is RetrievalMode.FUSED:
            weights = ((lex, 1.0), (den, self.settings.dense_weight))
            fused = {
                pos: sum(w / (self.settings.rrf_k + ranks[pos][0]) for ranks, w in weights if pos in ranks)
                for pos in lex.keys() | den.keys()
            }
            ranking = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        else:
            ranking = lexical if mode is RetrievalMode.LEXICAL else dense
        chosen = self._diversify([pos for pos, _ in ranking], k)
        scores = dict(ranking)
        return [
            Passage(
                chunk=self.chunks[pos],
                score=scores[pos],
                rank=rank,
                lexical_score=lex[pos][1] if pos in lex else None,
                lexical_rank=lex[pos][0] if pos in lex else None,
                dense_score=den[pos][1] if pos in den else None,
                dense_rank=den[pos][0] if pos in den else None,
            )
            for rank, pos in enumerate(chosen, start=1)
        ]

    def search_criterion(
        self,
        criterion: Criterion,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        *,
        siblings: Sequence[Criterion] = (),
    ) -> list[Passage]:
        """The k best passages for a criterion. ``siblings``: the other criteria of its block
        (or all of them), whose evidence this criterion's should differ from."""
        import numpy as np

        others = [c for c in siblings if c.id != criterion.id]
        mean = None
        if others:
            mean = np.mean([self._criterion_scores(c) for c in others], axis=0)
        return self.search(criterion_query(criterion), k, mode, others=mean)

    def _criterion_scores(self, criterion: Criterion) -> Scores:
        if criterion.id not in self._cache:
            self._cache[criterion.id] = self.lexical_scores(criterion_query(criterion))
        return self._cache[criterion.id]

    def _diversify(self, ranking: list[int], k: int) -> list[int]:
        chosen: list[int] = []
        skipped: list[int] = []
        per_page: dict[tuple[str, int], int] = {}
        for pos in ranking:
            chunk = self.chunks[pos]
            page = (chunk.file, chunk.page_start)
            crowded = per_page.get(page, 0) >= self.settings.max_per_page
            if crowded or any(_overlap(chunk, self.chunks[c]) > 0.5 for c in chosen):
                skipped.append(pos)
                continue
            chosen.append(pos)
            per_page[page] = per_page.get(page, 0) + 1
            if len(chosen) == k:
                return chosen
        return chosen + skipped[: k - len(chosen)]  # relax diversity rather than return fewer
