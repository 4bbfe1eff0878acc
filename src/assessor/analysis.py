"""French text analysis for lexical retrieval: elisions, stopwords, Snowball stems, accent folding.

« L'analyse des indicateurs » and « analyser l’indicateur » share the tokens ``analys`` and
``indicateur``; accents are folded after stemming (the French stemmer needs them), so a
dossier typed without accents still matches.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import unicodedata
from pathlib import Path

import Stemmer

_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.I)
_TOKEN = re.compile(r"[^\W_]+", re.U)
_MORE_STOPWORDS = {"ainsi", "afin", "cette", "ces", "ceux", "celle", "dont", "leurs", "etc"}


@functools.cache
def _stopwords() -> frozenset[str]:
    """bm25s's French stopwords. Importing ``bm25s.stopwords`` would run the package, which loads
    SciPy (seconds); the list is plain data, so its file is read on its own."""
    package = importlib.util.find_spec("bm25s")  # located, not run
    folder = package.submodule_search_locations if package else None
    spec = (
        importlib.util.spec_from_file_location("_bm25s_stopwords", Path(folder[0], "stopwords.py")) if folder else None
    )
    if spec is None or spec.loader is None:
        raise ImportError("bm25s is not installed (pip install bm25s)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOPWORDS_FRENCH) | _MORE_STOPWORDS


@functools.cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("french")


def fold(text: str) -> str:
    """Remove accents: « évalué » -> « evalue »; « œ » -> « oe »."""
    if text.isascii():  # most words: nothing to fold
        return text
    text = text.replace("œ", "oe").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def analyze(text: str) -> list[str]:
    """Tokens of a French text for BM25: lower case, no elisions or stopwords, stemmed, folded."""
    words = _TOKEN.findall(_ELISION.sub(" ", text.casefold()))
    stopwords = _stopwords()
    kept = [w for w in words if w not in stopwords and fold(w) not in stopwords and (len(w) > 1 or w.isdigit())]
    return [fold(stem) for stem in _stemmer().stemWords(kept)]


@functools.lru_cache(maxsize=4096)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of ``analyze(text)``, remembered: the evidence-only assessment measures
    the same retrieved passages against criterion after criterion."""
    return frozenset(analyze(text))
