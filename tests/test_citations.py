"""Citations are verified, never trusted: each rule of assessor.citations, with French passages."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from assessor.chunking import Chunk
from assessor.citations import (
    QUOTE_MATCH_THRESHOLD,
    QuoteCheck,
    errors_for_retry,
    matching_form,
    verify_citations,
    verify_quote,
)
from assessor.ingest.normalize import normalize_text

PASSAGE = (
    "Au cours de mon alternance chez Vélo’Ouest, j’ai piloté le déve-\n"
    "loppement d’un outil de suivi des prospects pour l’équipe commerciale.\n"
    "Le projet n’est passé en production qu’en mars 2023, après trois mois de tests\n"
    "avec les conseillers de la boutique de Nantes.\n"
    "Outil | Usage | Fréquence\n"
    "CRM Hubspot | suivi des relances clients | quotidienne\n"
    "Tableau de bord | analyse du chiffre d’affaires | mensuelle\n"
    "J’ai animé l’atelier « bien-\nêtre au travail » et présenté les résultats : "
    "hausse de 12 % des ventes en un trimestre."
)


def passes(quote: str, passage: str = PASSAGE) -> QuoteCheck:
    check = verify_quote(quote, passage)
    assert check.ok, check.reason
    return check


def fails(quote: str, passage: str = PASSAGE) -> QuoteCheck:
    check = verify_quote(quote, passage)
    assert not check.ok, check.reason
    assert check.start is None and check.end is None
    return check


# --- the threshold and the matching form -------------------------------------------------


def test_threshold_is_strict_and_documented() -> None:
    import assessor.citations as citations

    assert QUOTE_MATCH_THRESHOLD == 95
    assert "partial_ratio" in (citations.__doc__ or "")
    assert QuoteCheck(True, 100.0, "ok") == QuoteCheck(ok=True, score=100.0, reason="ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        QuoteCheck(True, 100.0, "ok").ok = False  # type: ignore[misc]


def test_matching_form_changes_typography_not_wording() -> None:
    assert matching_form("L’Équipe  a\nﬁnalisé le déve-\nloppement") == "l'équipe a finalisé le développement"
    assert matching_form("« Bien-\nêtre » | “qualité” : oui !") == "bienêtre qualité: oui!"
    assert matching_form("mise en œuvre\u00a0; coût\u00ad") == "mise en oeuvre; coût"
    assert matching_form("e\u0301te\u0301") == "été"  # decomposed accents are composed
    assert matching_form("2019–2021 … fin") == "2019-2021 ... fin"


# --- rule 1: at least three words --------------------------------------------------------


@pytest.mark.parametrize("quote", ["", "   ", "\n", "outil", "suivi prospects", "l’équipe commerciale", "« » | —"])
def test_too_short_quotes_fail(quote: str) -> None:
    check = fails(quote)
    assert check.reason == "citation trop courte : au moins trois mots"


def test_three_words_are_enough() -> None:
    passes("suivi des prospects")


# --- rule 2: no ellipsis -----------------------------------------------------------------


@pytest.mark.parametrize("marker", ["...", "…", "[…]", "(...)", "[...]", "(…)", ". . ."])
def test_a_cut_quote_fails(marker: str) -> None:
    quote = f"j’ai piloté le développement {marker} pour l’équipe commerciale"
    assert verify_quote(quote, PASSAGE).reason == "une citation doit être continue : pas de coupure « … »"
    fails(quote)


def test_an_ellipsis_the_candidate_wrote_may_be_quoted() -> None:
    passage = "Nous avons relancé les clients inactifs… puis mesuré le taux de retour."
    passes("relancé les clients inactifs… puis mesuré", passage)
    passes("relancé les clients inactifs... puis mesuré", passage)
    fails("relancé les clients … le taux de retour", passage)


# --- rule 3: exact match after normalisation ---------------------------------------------


def test_exact_quote_passes_with_its_offsets() -> None:
    quote = "j’ai piloté le déve-\nloppement d’un outil de suivi des prospects"
    check = passes(quote)
    assert check.score == 100
    assert check.reason == "retrouvée telle quelle dans le passage"
    assert PASSAGE[check.start : check.end] == quote


@pytest.mark.parametrize(
    "quote",
    [
        "J'ai piloté le développement d'un outil",  # straight apostrophes, hyphenation joined
        "JʼAI PILOTÉ LE DÉVELOPPEMENT",  # case, modifier-letter apostrophe
        "j‘ai   piloté\nle\n\ndéveloppement",  # whitespace and line breaks
        "j’ai piloté le déve-\nloppement",  # hyphenated as in the passage
        "j’ai piloté le dével\u00adoppement",  # soft hyphen
        "j’ai pilote\u0301 le de\u0301veloppement",  # decomposed accents (NFD)
        "passé en production qu’en mars 2023",
        "« Le projet n’est passé en production »",  # French quotation marks around the quote
        '"Le projet n’est passé en production"',
        "atelier “bien-être au travail”",  # compound word split across lines in the passage
        "l’atelier bien-\nêtre au travail",
        "CRM Hubspot | suivi des relances clients | quotidienne",  # a table row
        "CRM Hubspot suivi des relances clients quotidienne",  # separators read as spaces
        "Usage | Fréquence CRM Hubspot",  # across two table rows
        "présenté les résultats: hausse de 12 % des ventes",  # no space before the colon
        "analyse du chiffre d’aﬀaires",  # ligature
    ],
)
def test_typographic_differences_are_ignored(quote: str) -> None:
    check = passes(quote)
    assert check.score == 100
    assert check.start is not None and check.end is not None
    assert matching_form(PASSAGE[check.start : check.end]) == matching_form(quote)


def test_a_quote_must_not_cut_a_word() -> None:
    check = fails("Le projet n’est pas")  # inside « n’est passé »: the negation is not there
    assert "« passé »" in check.reason and "« pas »" in check.reason
    fails("projet n’est passé en product")


# --- rule 4: fuzzy match ---------------------------------------------------------------


def test_a_typo_in_a_long_quote_passes_and_is_reported() -> None:
    quote = "J’ai piloté le dévelopement d’un outil de suivi des prospects pour l’équipe commerciale."
    check = passes(quote)
    assert QUOTE_MATCH_THRESHOLD <= check.score < 100
    assert check.reason.startswith("retrouvée à ")
    assert "« développement »" in check.reason and "« dévelopement »" in check.reason
    assert check.start is not None and check.end is not None
    assert PASSAGE[check.start : check.end].startswith("j’ai piloté")
    assert PASSAGE[check.start : check.end].endswith("commerciale")


def test_a_missing_accent_passes_in_a_long_quote() -> None:
    check = passes("Le projet n’est passé en production qu’en mars 2023, apres trois mois de tests")
    assert "« après »" in check.reason


def test_punctuation_differences_pass_in_a_long_quote() -> None:
    check = passes("Le projet n’est passé en production qu’en mars 2023 après trois mois de tests.")
    assert check.reason.endswith("seules la ponctuation ou la typographie diffèrent")


def test_a_typo_in_a_short_quote_fails() -> None:
    check = fails("suivi des prospcts")
    assert re.search(r"introuvable dans le passage \(meilleure correspondance : \d+ %\)", check.reason)


def test_a_changed_short_word_fails_even_in_a_long_quote() -> None:
    passage = "Il a conduit seul la négociation annuelle avec les trois fournisseurs de la centrale d’achat."
    check = fails(
        "On a conduit seul la négociation annuelle avec les trois fournisseurs de la centrale d’achat.", passage
    )
    assert "« Il »" in check.reason and "« On »" in check.reason
    passes("Il a conduit seul la negociation annuelle avec les trois fournisseurs de la centrale d’achat.", passage)
    assert not verify_quote(
        "Il a conduit seul la négociation annuelle avec les trois fournisseurs de la centrale d’achat.",
        passage.replace("Il a", "Elle a"),
    ).ok


def test_a_changed_number_fails() -> None:
    check = fails("Le projet n’est passé en production qu’en mars 2024, après trois mois de tests")
    assert "« 2023 »" in check.reason and "« 2024 »" in check.reason
    fails("présenté les résultats : hausse de 15 % des ventes en un trimestre")


def test_two_replaced_words_fail() -> None:
    fails("Le projet n’est passé en recette qu’en avril 2023, après trois mois de tests")
    # Two small changes in a long quote stay above the threshold: the word rule rejects them.
    quote = (
        "Le projet n’est passé en production qu’en mars 2023, après trois mois de tests "
        "avec des conseillers de le boutique de Nantes."
    )
    assert fuzz.partial_ratio(matching_form(quote), matching_form(PASSAGE)) >= QUOTE_MATCH_THRESHOLD
    check = fails(quote)
    assert "« les »" in check.reason and "« des »" in check.reason
    assert "mot pour mot" in check.reason


def test_an_added_or_removed_word_fails() -> None:
    fails("Le projet n’est pas passé en production qu’en mars 2023, après trois mois de tests")
    fails("Le projet n’est passé en production qu’en mars 2023, après trois mois tests")


def test_a_paraphrase_fails_with_the_best_score() -> None:
    check = fails("Le candidat a développé seul un logiciel de gestion des prospects")
    match = re.fullmatch(r"introuvable dans le passage \(meilleure correspondance : (\d+) %\)", check.reason)
    assert match and int(match.group(1)) < QUOTE_MATCH_THRESHOLD
    assert check.score < QUOTE_MATCH_THRESHOLD


def test_a_quote_running_past_the_passage_fails() -> None:
    passage = "Le projet n’est passé en production qu’en mars 2023."
    check = fails(
        "Le projet n’est passé en production qu’en mars 2023, après trois mois de tests avec les conseillers",
        passage,
    )
    assert "seule une partie de la citation y figure" in check.reason


def test_an_empty_passage_fails() -> None:
    assert fails("suivi des prospects", "").reason == "introuvable dans le passage (meilleure correspondance : 0 %)"


LONG_A = (
    "Pendant la première année, j’ai repris le fichier des clients professionnels de l’agence, "
    "qui comptait près de mille deux cents comptes dont un tiers sans contact depuis deux ans. "
    "J’ai d’abord dédoublonné les fiches, complété les coordonnées manquantes à partir des "
    "registres publics et classé chaque compte selon son potentiel d’achat et sa fréquence de "
    "commande. Cette segmentation a servi de base au plan de relance que j’ai présenté à ma "
    "responsable en septembre, avec un calendrier d’appels, des objectifs hebdomadaires par "
    "conseiller et un tableau de suivi partagé dans le CRM de l’entreprise."
)
GAP = " Six semaines de travail en tout."
LONG_B = (
    " Au terme du trimestre, quatre-vingt-sept comptes dormants avaient repassé commande, pour "
    "un chiffre d’affaires additionnel de quarante-deux mille euros, soit onze pour cent de "
    "l’objectif annuel de l’agence. J’ai analysé les refus pour comprendre ce qui freinait les "
    "autres clients : le délai de livraison revenait le plus souvent, devant le prix et la "
    "qualité du service après-vente. J’ai transmis ces constats au responsable logistique, et "
    "nous avons proposé ensemble une option de livraison express pour les commandes urgentes, "
    "reprise depuis dans l’offre standard de l’enseigne."
)


def test_a_long_stitched_quote_fails_although_partial_ratio_alone_would_pass() -> None:
    passage = LONG_A + GAP + LONG_B
    quote = LONG_A + LONG_B
    assert quote not in passage
    assert fuzz.partial_ratio(matching_form(quote), matching_form(passage)) >= QUOTE_MATCH_THRESHOLD
    check = fails(quote, passage)
    assert "mot pour mot" in check.reason
    passes(LONG_A + GAP, passage)
    passes(GAP + LONG_B, passage)


def test_a_short_stitched_quote_fails() -> None:
    fails("j’ai piloté le développement de la boutique de Nantes")
    fails("suivi des prospects pour l’équipe analyse du chiffre d’affaires")


# --- verify_citations and errors_for_retry ----------------------------------------------


def chunk(chunk_id: str, text: str, *, ocr: bool = False, page: int = 4) -> Chunk:
    return Chunk(
        id=chunk_id,
        file="dossier-professionnel.pdf",
        file_sha256="ab" * 32,
        page_start=page,
        page_end=page + 1,
        paged=True,
        locator=f"pages {page}–{page + 1}",
        char_start=0,
        char_end=len(text),
        heading_path=["2. Projet commercial"],
        text=text,
        ocr=ocr,
    )


PASSAGES = {
    "c-1": chunk("c-1", PASSAGE),
    "c-2": chunk("c-2", "Le devis a été validé par la direction régionale le 4 avril.", ocr=True, page=9),
}


def test_citations_take_their_place_from_the_chunk() -> None:
    (citation,) = verify_citations([("c-2", "validé par la direction régionale")], PASSAGES)
    assert citation.verified
    assert (citation.file, citation.page, citation.locator) == ("dossier-professionnel.pdf", 9, "pages 9–10")
    assert citation.ocr is True
    assert citation.quote == "validé par la direction régionale"
    assert citation.verification == "retrouvée telle quelle dans le passage"


def test_ocr_flag_is_propagated_even_when_the_quote_fails() -> None:
    first, second = verify_citations(
        [("c-2", "validé par le directeur national"), ("c-1", "suivi des prospects")], PASSAGES
    )
    assert (first.ocr, first.verified) == (True, False)
    assert (second.ocr, second.verified) == (False, True)


def test_an_unknown_passage_is_rejected_and_kept() -> None:
    (citation,) = verify_citations([("c-99", "suivi des prospects")], PASSAGES)
    assert not citation.verified
    assert citation.verification == "passage inconnu : « c-99 » ne fait pas partie des passages fournis"
    assert (citation.file, citation.page, citation.locator, citation.ocr) == ("?", None, "?", False)
    assert citation.quote == "suivi des prospects"


def test_no_citation_is_dropped_and_order_and_duplicates_are_kept() -> None:
    cited = [
        ("c-2", "validé par la direction régionale"),
        ("c-404", "validé par la direction régionale"),
        ("c-1", "un texte inventé de toutes pièces"),
        ("c-2", "validé par la direction régionale"),
        ("c-1", "…"),
        ("c-1", "suivi des prospects"),
    ]
    citations = verify_citations(cited, PASSAGES)
    assert [(c.chunk_id, c.quote) for c in citations] == cited
    assert [c.verified for c in citations] == [True, False, False, True, False, True]
    assert citations[0] == citations[3]


def test_errors_for_retry_has_one_precise_line_per_failed_citation() -> None:
    citations = verify_citations(
        [
            ("c-1", "suivi des prospects"),
            ("c-404", "suivi des prospects"),
            ("c-1", "j’ai piloté le développement … pour l’équipe commerciale"),
            ("c-1", "Le projet n’est passé en production qu’en mars 2024"),
        ],
        PASSAGES,
    )
    errors = errors_for_retry(citations)
    assert errors == [
        "Citation n°2 (passage c-404) : passage inconnu : « c-404 » ne fait pas partie des passages fournis",
        "Citation n°3 (passage c-1) : une citation doit être continue : pas de coupure « … »",
        "Citation n°4 (passage c-1) : introuvable dans le passage (meilleure correspondance : 98 %) : "
        "le passage porte « 2023 » là où la citation porte « 2024 »",
    ]
    assert errors_for_retry(citations[:1]) == []
    assert errors_for_retry([]) == []


# --- properties ---------------------------------------------------------------------------


# Distinct one-token words (no apostrophe, no hyphen), so that a passage made of distinct
# words never repeats a stretch of itself.
def words(text: str) -> list[str]:
    return text.split()


WORDS = words("""
alternance entreprise client prospect relance devis commande facture marge remise objectif
tableau suivi analyse vente achat fournisseur stock livraison service conseiller boutique
agence direction responsable équipe projet budget planning réunion atelier formation
compétence évaluation entretien négociation argumentaire catalogue produit gamme prix tarif
promotion campagne fichier segmentation fidélisation satisfaction enquête questionnaire
indicateur résultat chiffre semaine trimestre année janvier septembre mission stage poste
contrat partenaire salon événement vitrine rayon merchandising caisse inventaire réassort
commercial marketing digital réseau site courriel téléphone présentation
rapport synthèse bilan priorité méthode outil logiciel base données export import qualité
délai retour réclamation litige garantie conformité sécurité hygiène accueil écoute besoin
solution offre proposition signature validation lancement pilotage
""")
WORDS = list(dict.fromkeys(WORDS))

# Words of no passage, each more than a typo away from every passage word.
FOREIGN = words("""
girafe volcan trompette cerisier marmotte horloge boussole parapluie pingouin tambour
cathédrale hibou citrouille grenouille papillon kangourou orchidée sablier tournesol zèbre
""")

SEPARATORS = [" ", " ", " ", "\n", ", ", " : ", ". ", " | "]


def test_the_vocabularies_are_far_apart() -> None:
    assert len(set(WORDS)) == len(WORDS) >= 100
    assert all(re.fullmatch(r"[^\W\d_]+", w) for w in WORDS + FOREIGN)
    assert all(Levenshtein.distance(f, w) > 2 for f in FOREIGN for w in WORDS)


@st.composite
def passages(draw: st.DrawFn, *, min_words: int = 8) -> tuple[str, list[tuple[int, int]]]:
    """A passage of distinct words with random separators, and each word's offsets."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=110, unique=True))
    text, spans = "", []
    for index, word in enumerate(words):
        if index:
            text += draw(st.sampled_from(SEPARATORS))
        if draw(st.booleans()) and index % 5 == 0:
            word = word.capitalize()
        spans.append((len(text), len(text) + len(word)))
        text += word
    return text, spans


# Passage words in several spellings: the passage uses the first, a quote any of them.
SPELLINGS = [
    ("déve-\nloppement", "développement", "dévelop-\npement", "DÉVELOPPEMENT"),
    ("l’entreprise", "l'entreprise", "lʼentreprise", "L’Entreprise"),
    ("d’équipe", "d'équipe", "d‘équipe"),
    ("qu’il", "qu'il", "quʼil"),
    ("bien-être", "bien-\nêtre", "bien‑être", "bienêtre"),
    ("chiffre", "Chiffre"),
    ("d’affaires", "d'affaires", "d’aﬀaires"),
    ("mise", "mise"),
    ("en", "en"),
    ("œuvre", "oeuvre", "Œuvre"),
    ("conseillère", "conseille\u0300re"),
    ("a", "a"),
    ("présenté", "présenté"),
    ("aux", "aux"),
    ("clients", "clients"),
    ("la", "la"),
    ("négociation", "NÉGOCIATION", "négo-\nciation"),
]
QUOTE_SEPARATORS = {
    " ": [" ", "\n", "  ", " \n "],
    "\n": [" ", "\n"],
    ", ": [", ", ",\n"],
    " : ": [" : ", ": ", " :\n"],
    ". ": [". ", ".\n", ".  "],
    " | ": [" | ", " ", "\n| "],
}
APOSTROPHES = "’'ʼ‘"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_stretch_of_three_words_or_more_passes(data: st.DataObject) -> None:
    size = data.draw(st.integers(3, 40))
    picks = data.draw(st.lists(st.sampled_from(range(len(SPELLINGS))), min_size=size, max_size=size))
    separators = data.draw(st.lists(st.sampled_from(list(QUOTE_SEPARATORS)), min_size=size, max_size=size))
    passage = "".join((separators[i] if i else "") + SPELLINGS[pick][0] for i, pick in enumerate(picks))
    first = data.draw(st.integers(0, size - 3))
    last = data.draw(st.integers(first + 2, size - 1))
    quote = ""
    for i in range(first, last + 1):
        if i > first:
            quote += data.draw(st.sampled_from(QUOTE_SEPARATORS[separators[i]]))
        word = data.draw(st.sampled_from(SPELLINGS[picks[i]]))
        quote += re.sub("['’ʼ‘]", lambda _: data.draw(st.sampled_from(APOSTROPHES)), word)
    check = verify_quote(quote, passage)
    assert check.ok, (quote, passage, check.reason)
    assert check.score == 100
    assert check.start is not None and check.end is not None
    assert matching_form(passage[check.start : check.end]) == matching_form(quote)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_two_separate_stretches_put_together_fail(data: st.DataObject) -> None:
    passage, spans = data.draw(passages(min_words=14))
    n = len(spans)
    a_first = data.draw(st.integers(0, n - 9))
    a_last = data.draw(st.integers(a_first + 3, n - 6))
    # B starts at least 30 characters after A ends, so at least one word lies between them.
    later = [i for i in range(a_last + 2, n - 3) if spans[i][0] - spans[a_last][1] >= 30]
    assume(later)
    b_first = data.draw(st.sampled_from(later))
    b_last = data.draw(st.integers(b_first + 3, n - 1))
    a = passage[spans[a_first][0] : spans[a_last][1]]
    b = passage[spans[b_first][0] : spans[b_last][1]]
    quote = a + data.draw(st.sampled_from([" ", ", ", ". ", "\n"])) + b
    assume(matching_form(quote) not in matching_form(passage))
    check = verify_quote(quote, passage)
    assert not check.ok, (quote, passage, check.reason)


@settings(max_examples=60, deadline=None)
@given(passages(min_words=95), st.data())
def test_long_stitched_quotes_fail_where_partial_ratio_alone_would_pass(
    drawn: tuple[str, list[tuple[int, int]]], data: st.DataObject
) -> None:
    """The hard case of the property above: two long stretches, a short gap between them."""
    passage, spans = drawn
    a_last = data.draw(st.integers(40, 55))
    b_first = next(i for i in range(a_last + 2, len(spans)) if spans[i][0] - spans[a_last][1] >= 30)
    b_first += data.draw(st.integers(0, 2))
    b_last = data.draw(st.integers(b_first + 30, len(spans) - 1))
    quote = passage[spans[0][0] : spans[a_last][1]] + " " + passage[spans[b_first][0] : spans[b_last][1]]
    assume(fuzz.partial_ratio(matching_form(quote), matching_form(passage)) >= QUOTE_MATCH_THRESHOLD)
    check = verify_quote(quote, passage)
    assert not check.ok, (quote, passage, check.reason)


@settings(max_examples=150, deadline=None)
@given(passages(), st.lists(st.sampled_from(FOREIGN), min_size=3, max_size=30), st.data())
def test_a_sentence_from_elsewhere_fails(
    drawn: tuple[str, list[tuple[int, int]]], foreign: list[str], data: st.DataObject
) -> None:
    passage, _ = drawn
    words = [w if data.draw(st.booleans()) else data.draw(st.sampled_from(WORDS)) for w in foreign]
    assume(sum(w in FOREIGN for w in words) >= max(2, len(words) // 3))
    quote = " ".join(words).capitalize() + "."
    check = verify_quote(quote, passage)
    assert not check.ok, (quote, passage, check.reason)


def typo(word: str, data: st.DataObject) -> str:
    """One character of ``word`` substituted, inserted or deleted."""
    at = data.draw(st.integers(0, len(word) - 1))
    kind = data.draw(st.sampled_from(["substitute", "insert", "delete"]))
    if kind == "delete":
        return word[:at] + word[at + 1 :]
    letter = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyzéèàç").filter(lambda c: c != word[at]))
    return word[:at] + letter + word[at + (kind == "substitute") :]


@st.composite
def long_quotes(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], int, int]:
    """A passage and the word range of a stretch of it of at least 60 characters."""
    passage, spans = draw(passages(min_words=12))
    first = draw(st.integers(0, len(spans) - 1))
    last = draw(st.integers(first, len(spans) - 1))
    assume(spans[last][1] - spans[first][0] >= 60)
    return passage, spans, first, last


@settings(max_examples=200, deadline=None)
@given(long_quotes(), st.data())
def test_one_typo_in_a_long_quote_passes(
    drawn: tuple[str, list[tuple[int, int]], int, int], data: st.DataObject
) -> None:
    """The documented tolerance: one character, in a word of four characters or more."""
    passage, spans, first, last = drawn
    long_words = [i for i in range(first, last + 1) if spans[i][1] - spans[i][0] >= 4]
    target = data.draw(st.sampled_from(long_words))
    start, end = spans[target]
    quote = passage[spans[first][0] : start] + typo(passage[start:end], data) + passage[end : spans[last][1]]
    check = verify_quote(quote, passage)
    assert check.ok, (quote, passage, check.reason)
    assert check.start == spans[first][0] and check.end == spans[last][1]


@settings(max_examples=200, deadline=None)
@given(long_quotes(), st.data())
def test_two_replaced_words_in_a_long_quote_fail(
    drawn: tuple[str, list[tuple[int, int]], int, int], data: st.DataObject
) -> None:
    passage, spans, first, last = drawn
    assume(last - first >= 1)
    one, two = sorted(data.draw(st.lists(st.integers(first, last), min_size=2, max_size=2, unique=True)))
    pieces = [passage[spans[first][0] : spans[one][0]], data.draw(st.sampled_from(FOREIGN))]
    pieces += [passage[spans[one][1] : spans[two][0]], data.draw(st.sampled_from(FOREIGN))]
    pieces += [passage[spans[two][1] : spans[last][1]]]
    quote = "".join(pieces)
    check = verify_quote(quote, passage)
    assert not check.ok, (quote, passage, check.reason)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aeéz E\u0301\u0300-–\n\r\t\u00a0\u00ad\u200b’'|«»:;.…ﬁœ²1_", max_size=60))
def test_the_matching_form_includes_the_projects_normalisation(text: str) -> None:
    assert matching_form(normalize_text(text)) == matching_form(text)
