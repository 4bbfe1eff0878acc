"""French text analysis for lexical retrieval: elisions, stopwords, Snowball stems, accent folding.

« L'analyse des indicateurs » and « analyser l’indicateur » share the tokens ``analys`` and
``indicateur``; accents are folded after stemming (the French stemmer needs them), so a
dossier typed without accents still matches.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import Stemmer
from bm25s.stopwords import STOPWORDS_FRENCH

_ELISION = re.compile(r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.I)
_TOKEN = re.compile(r"[^\W_]+", re.U)
_STOPWORDS = frozenset(STOPWORDS_FRENCH) | {
    "ainsi",
    "afin",
    "cette",
    "ces",
    "ceux",
    "celle",
    "dont",
    "leurs",
    "etc",
}


@functools.cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("french")


def fold(text: str) -> str:
    """Remove accents: « évalué » -> « evalue »; « œ » -> « oe »."""
    text = text.replace("œ", "oe").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def analyze(text: str) -> list[str]:
    """Tokens of a French text for BM25: lower case, no elisions or stopwords, stemmed, folded."""
    words = _TOKEN.findall(_ELISION.sub(" ", text.casefold()))
    kept = [w for w in words if w not in _STOPWORDS and fold(w) not in _STOPWORDS and (len(w) > 1 or w.isdigit())]
    return [fold(stem) for stem in _stemmer().stemWords(kept)]
