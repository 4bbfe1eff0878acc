"""Citations are verified, never trusted: each rule of assessor.citations, with French passages."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings, strategies as st

from assessor.chunking import Chunk
from assessor.citations import (
    MAX_NAMED_DIFFERENCES,
    MIN_EXTRACT_WORDS,
    MIN_QUOTE_WORDS,
    QuoteCheck,
    errors_for_retry,
    matching_form,
    verify_citations,
    verify_quote,
)
from assessor.ingest.normalize import normalize_text
from tiers import examples

PASSAGE = (
    "Au cours de mon alternance chez Vélo’Ouest, j’ai piloté le déve-\n"
    "loppement d’un outil de suivi des prospects pour l’équipe commerciale.\n"
    "Le projet n’est passé en production qu’en mars 2023, après trois mois de tests\n"
    "avec les conseillers de la boutique de Nantes.\n"
    "Outil | Usage | Fréquence\n"
    "CRM Hubspot | suivi des relances clients | quotidienne\n"
    "Tableau de bord | analyse du chiffre d’affaires | mensuelle\n"
    "J’ai animé l’atelier « bien-\nêtre au travail » et présenté les résultats : "
    "hausse de 12 % des ventes en un trimestre.\n"
    "Les relances sont faites dans les deux jours ; le taux de réponse a gagné +4 points, "
    "pour un objectif ≥ 30 % et 1\u202f200 clients relancés\u00a0!\n"
    "• Mise en œuvre du plan de fidélisation sur 2019–2021."
)

TYPOGRAPHY = (
    "retrouvée mot pour mot dans le passage ; seule la typographie diffère "
    "(espaces, apostrophes, guillemets, tirets, césures, majuscule initiale ou ponctuation finale)"
)
AS_IS = "retrouvée telle quelle dans le passage"
NOTHING = "introuvable dans le passage : aucun extrait de la citation n'y figure"


def passes(quote: str, passage: str = PASSAGE) -> QuoteCheck:
    check = verify_quote(quote, passage)
    assert check.ok, check.reason
    assert check.spans and all(start < end for start, end in check.spans)
    return check


def fails(quote: str, passage: str = PASSAGE) -> QuoteCheck:
    check = verify_quote(quote, passage)
    assert not check.ok, check.reason
    assert check.spans == () and check.start is None and check.end is None  # nothing to highlight
    return check


# --- the outcome and the matching form ---------------------------------------------------


def test_the_outcome_is_a_frozen_record_with_spans() -> None:
    import assessor.citations as citations

    doc = citations.__doc__ or ""
    assert "partial_ratio" not in doc and "rapidfuzz" not in doc
    assert QuoteCheck(True, "ok", ((2, 5), (9, 12))) == QuoteCheck(ok=True, reason="ok", spans=((2, 5), (9, 12)))
    assert (QuoteCheck(True, "ok", ((2, 5), (9, 12))).start, QuoteCheck(True, "ok", ((2, 5), (9, 12))).end) == (2, 12)
    assert QuoteCheck(False, "non").start is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        QuoteCheck(True, "ok").ok = False  # type: ignore[misc]
    assert (MIN_QUOTE_WORDS, MIN_EXTRACT_WORDS) == (3, 2)


def test_matching_form_changes_typography_not_wording() -> None:
    assert matching_form("L’Équipe  a\nﬁnalisé le déve-\nloppement") == "L'Équipe a finalisé le développement"
    assert matching_form("« Bien-\nêtre » | “qualité” : oui !") == "Bienêtre qualité:oui!"
    assert matching_form("mise en œuvre\u00a0; coût\u00ad") == "mise en oeuvre;coût"
    assert matching_form("Œuvre, ŒUVRE") == "Oeuvre,OEUVRE"
    assert matching_form("e\u0301te\u0301") == "été"  # decomposed accents are composed
    assert matching_form("2019–2021 … fin") == "2019-2021...fin"
    assert matching_form("1 200 000 € ; 1\u202f200 ; 2023 150") == "1200000€;1200;2023 150"
    assert matching_form("entre 5\n000 et | 296 | 305 « 12 » 345\n\n678") == "entre 5000 et 296 305 12 345 678"
    assert matching_form("• un\n- deux\n\uf0b7 trois") == "un deux trois"  # bullets, a PDF's private-use one too
    assert matching_form("12 % / 12%") == "12%/12%"
    assert matching_form("dans") != matching_form("sans")
    assert matching_form("Mars") != matching_form("mars")  # case counts (but for a quote's first letter)


# --- rule 1: at least three words --------------------------------------------------------


@pytest.mark.parametrize("quote", ["", "   ", "\n", "outil", "suivi prospects", "l’équipe commerciale", "« » | —"])
def test_too_short_quotes_fail(quote: str) -> None:
    check = fails(quote)
    assert check.reason == "citation trop courte : au moins trois mots"


LIST = "Compétences mobilisées :\n- Développement back-end sécurisé\n- Intégration d’API externe (Stripe)\n* Webhooks"


def test_a_list_quoted_with_its_lines_joined_keeps_its_bullets_as_typography() -> None:
    quote = "Compétences mobilisées : - Développement back-end sécurisé - Intégration d’API externe (Stripe) * Webhooks"
    passes(quote, LIST)
    passes("Compétences mobilisées : Développement back-end sécurisé Intégration d’API externe", LIST)
    fails("Compétences mobilisées : - Développement front-end sécurisé", LIST)


def test_a_spaced_minus_before_a_number_is_still_a_sign() -> None:
    fails("le chiffre d'affaires a varié de 4 % sur l'année", "le chiffre d'affaires a varié de - 4 % sur l'année")
    passes("le chiffre d'affaires a varié de - 4 % sur l'année", "le chiffre d'affaires a varié de - 4 % sur l'année")


def test_three_words_are_enough() -> None:
    passes("suivi des prospects")


# --- rule 3: the passage's words ---------------------------------------------------------


def test_an_exact_quote_passes_with_its_offsets() -> None:
    quote = "j’ai piloté le déve-\nloppement d’un outil de suivi des prospects"
    check = passes(quote)
    assert check.reason == AS_IS
    assert check.spans == ((PASSAGE.index(quote), PASSAGE.index(quote) + len(quote)),)
    assert PASSAGE[check.start : check.end] == quote


def test_an_exact_quote_over_line_breaks_passes_as_is() -> None:
    check = passes("après trois mois de tests avec les conseillers")
    assert check.reason == AS_IS
    assert PASSAGE[check.start : check.end] == "après trois mois de tests\navec les conseillers"


@pytest.mark.parametrize(
    ("quote", "found"),
    [
        # apostrophes and quotation marks of any style
        ("J'ai piloté le développement d'un outil", "j’ai piloté le déve-\nloppement d’un outil"),
        ("jʼai piloté le développement dʻun outil", "j’ai piloté le déve-\nloppement d’un outil"),
        ("« Le projet n’est passé en production qu’en mars »", "Le projet n’est passé en production qu’en mars"),
        ('"Le projet n’est passé en production qu’en mars"', "Le projet n’est passé en production qu’en mars"),
        ("l’atelier “bien-être au travail”", "l’atelier « bien-\nêtre au travail"),
        # spaces and line breaks, non-breaking and narrow spaces
        ("j‘ai   piloté\nle\n\ndéveloppement", "j’ai piloté le déve-\nloppement"),
        ("mars\u00a02023, après\u202ftrois mois", "mars 2023, après trois mois"),
        ("1200 clients relancés", "1\u202f200 clients relancés"),  # a thousands separator, or none
        ("pour un objectif ≥ 30 % et 1 200 clients", "pour un objectif ≥ 30 % et 1\u202f200 clients"),
        # hyphenation at a line end, and a compound word split across lines
        ("j’ai piloté le déve-\nloppement", "j’ai piloté le déve-\nloppement"),
        ("l’atelier bien-\nêtre au travail", "l’atelier « bien-\nêtre au travail"),
        ("animé l’atelier bienêtre au travail", "animé l’atelier « bien-\nêtre au travail"),
        # ligatures, soft hyphens and zero-width characters
        ("analyse du chiﬀre d’aﬀaires", "analyse du chiffre d’affaires"),
        ("Mise en oeuvre du plan", "Mise en œuvre du plan"),
        ("j’ai piloté le dével\u00adoppement", "j’ai piloté le déve-\nloppement"),
        ("suivi des\u200b prospects", "suivi des prospects"),
        ("j’ai pilote\u0301 le de\u0301veloppement", "j’ai piloté le déve-\nloppement"),  # decomposed accents
        # dash styles
        ("plan de fidélisation sur 2019-2021", "plan de fidélisation sur 2019–2021"),
        ("plan de fidélisation sur 2019—2021", "plan de fidélisation sur 2019–2021"),
        # the first letter's case
        ("le projet n’est passé en production qu’en mars", "Le projet n’est passé en production qu’en mars"),
        ("Outil de suivi des prospects", "outil de suivi des prospects"),
        # the space before : ; ! ?
        ("présenté les résultats: hausse de 12 % des ventes", "présenté les résultats : hausse de 12 % des ventes"),
        ("deux jours; le taux de réponse", "deux jours ; le taux de réponse"),
        ("1 200 clients relancés!", "1\u202f200 clients relancés\u00a0!"),
        # punctuation opening or closing the quote, bullets
        ("Le projet n’est passé en production qu’en mars.", "Le projet n’est passé en production qu’en mars"),
        ("trois mois de tests.", "trois mois de tests"),
        ("…hausse de 12 % des ventes…", "hausse de 12 % des ventes"),
        ("- Mise en œuvre du plan", "Mise en œuvre du plan"),
        # table separators
        (
            "CRM Hubspot | suivi des relances clients | quotidienne",
            "CRM Hubspot | suivi des relances clients | quotidienne",
        ),
        (
            "CRM Hubspot suivi des relances clients quotidienne",
            "CRM Hubspot | suivi des relances clients | quotidienne",
        ),
        ("Usage | Fréquence CRM Hubspot", "Usage | Fréquence\nCRM Hubspot"),
    ],
)
def test_typographic_differences_are_ignored(quote: str, found: str) -> None:
    check = passes(quote)
    assert check.reason in (AS_IS, TYPOGRAPHY)
    assert PASSAGE[check.start : check.end] == found


@pytest.mark.parametrize(
    ("quote", "reason"),
    [
        ("Le projet n’est passé\nen production qu’en mars", AS_IS),  # the text as extracted, up to whitespace
        ("après trois mois de tests avec", AS_IS),
        ("analyse du chiﬀre d’aﬀaires", AS_IS),  # ligatures are expanded at extraction
        ("Le projet n'est passé en production qu'en mars", TYPOGRAPHY),
        ("le projet n’est passé en production qu’en mars", TYPOGRAPHY),
        ("« Le projet n’est passé en production qu’en mars. »", TYPOGRAPHY),
    ],
)
def test_the_reason_tells_whether_only_typography_differs(quote: str, reason: str) -> None:
    assert passes(quote).reason == reason


def test_the_quote_is_never_replaced_by_the_passage_text() -> None:
    quote = "« j'ai piloté le développement d'un outil »"
    (citation,) = verify_citations([("c-1", quote)], PASSAGES)
    assert citation.verified and citation.quote == quote
    (citation,) = verify_citations([("c-1", "j’ai piloté le développement d’un logiciel")], PASSAGES)
    assert not citation.verified and citation.quote == "j’ai piloté le développement d’un logiciel"


# --- altered quotes: unverified, and the reason names the difference ----------------------

# Each of these failed on the fuzzy matching that came before (verified with one word off),
# except where the comment says otherwise.
ALTERED = [
    pytest.param(
        "Les relances sont faites sans les deux jours",
        "citation inexacte : le passage porte « dans » là où la citation porte « sans »",
        id="dans-sans",
    ),
    pytest.param(
        "présenté les résultats : hausse de 12 € des ventes en un trimestre",
        "citation inexacte : le passage porte « 12 % des » là où la citation porte « 12 € des »",
        id="percent-euro",
    ),
    pytest.param(
        "le taux de réponse a gagné −4 points, pour un objectif",
        "citation inexacte : le passage porte « +4 » là où la citation porte « −4 »",
        id="plus-minus",
    ),
    pytest.param(
        "pour un objectif ≤ 30 % et 1 200 clients relancés",
        "citation inexacte : le passage porte « objectif ≥ 30 » là où la citation porte « objectif ≤ 30 »",
        id="geq-leq",
    ),
    pytest.param(
        "Le projet n’est passé en production qu’en mars 2023, après trois fois de tests",
        "citation inexacte : le passage porte « mois » là où la citation porte « fois »",
        id="mois-fois",
    ),
    pytest.param(
        "le taux de réponse à gagné +4 points, pour un objectif",
        "citation inexacte : le passage porte « a » là où la citation porte « à »",
        id="accent",
    ),
    pytest.param(
        "Le projet n’est pas passé en production qu’en mars 2023",
        "citation inexacte : la citation ajoute « pas » après « n’est »",
        id="word-added",
    ),
    pytest.param(
        "après trois mois tests avec les conseillers de la boutique de Nantes",
        "citation inexacte : la citation omet « de » après « mois »",
        id="word-dropped",
    ),
    pytest.param(
        "Le projet n’est passé en product",
        "citation inexacte : la citation coupe le mot « production » (elle porte « product »)",
        id="word-cut-at-the-end",
    ),
    pytest.param(
        "oppement d’un outil de suivi des prospects",
        "citation inexacte : la citation coupe le mot « développement » (elle porte « oppement »)",
        id="word-cut-at-the-start",
    ),
    pytest.param(
        "Le projet n’est passé en production qu’en mars 2024, après trois mois de tests",
        "citation inexacte : le passage porte « 2023 » là où la citation porte « 2024 »",
        id="number",  # passed the old rules too: a changed number was always refused
    ),
    pytest.param(
        "Le projet n’est passé en production qu’en mars 2023 après trois mois de tests",
        "citation inexacte : la citation omet « , » après « 2023 »",
        id="punctuation-inside",
    ),
    pytest.param(
        "Le Projet n’est passé en production qu’en mars",
        "citation inexacte : la casse diffère : le passage porte « projet » là où la citation porte « Projet »",
        id="case-inside",
    ),
    pytest.param(
        "Le projet n’est passé en recette qu’en avril 2024, après deux mois de tests avec des conseillers",
        "citation inexacte : le passage porte « production » là où la citation porte « recette » ; "
        "le passage porte « mars » là où la citation porte « avril » ; "
        "le passage porte « 2023 » là où la citation porte « 2024 » ; et 2 autres différences",
        id="several",  # failed before too
    ),
]


@pytest.mark.parametrize(("quote", "reason"), ALTERED)
def test_an_altered_quote_fails_and_the_reason_names_the_difference(quote: str, reason: str) -> None:
    assert fails(quote).reason == reason


def test_a_negation_that_is_not_there_fails() -> None:
    assert fails("Le projet n’est pas").reason == (
        "citation inexacte : la citation coupe le mot « passé » (elle porte « pas »)"
    )


@pytest.mark.parametrize(
    ("quote", "passage", "stop"),
    [
        ("Le projet n’est passé en production", PASSAGE, "qu’en"),
        ("les circonstances ne le permettent.", "Or les circonstances ne le permettent pas.", "pas"),
        ("Le candidat ne fait", "Le candidat ne fait rien de plus.", "rien"),
    ],
)
def test_a_quote_may_not_stop_inside_a_negation(quote: str, passage: str, stop: str) -> None:
    assert fails(quote, passage).reason == (
        f"citation inexacte : la citation s'arrête avant « {stop} », qui complète la négation « ne … » du passage"
    )


def test_a_quote_may_stop_after_a_complete_negation() -> None:
    passes("Le projet n’est passé en production qu’en mars")
    passes("les circonstances ne le permettent pas", "Or les circonstances ne le permettent pas du tout.")
    passes("Le candidat n’a jamais présenté", "Le candidat n’a jamais présenté aucun bilan.")
    passes("ne le permettent pas […] du tout", "Or les circonstances ne le permettent pas du tout.")
    assert fails("ne le permettent […] du tout", "Or les circonstances ne le permettent pas du tout.").reason == (
        "extrait 1 sur 2 (« ne le permettent ») : citation inexacte : "
        "la citation s'arrête avant « pas », qui complète la négation « ne … » du passage"
    )


def test_at_most_a_few_differences_are_named() -> None:
    quote = (
        "Le projet n’est passé en recette qu’en avril 2024, après six mois de tests avec les conseillers "
        "de la boutique de Nantes. Outil | Usage | Fréquence"
    )
    reason = fails(quote).reason
    assert reason.count("là où la citation porte") == MAX_NAMED_DIFFERENCES
    assert reason.endswith(" ; et 1 autre différence"), reason


def test_an_invented_quote_is_found_nowhere() -> None:
    assert fails("Le candidat a négocié seul un contrat de dix millions d’euros").reason == NOTHING
    reason = fails("Le candidat a développé seul un logiciel de gestion des prospects").reason
    assert reason == "introuvable dans le passage : moins de la moitié des mots de la citation s'y suivent ainsi"


def test_an_empty_passage_fails() -> None:
    assert fails("suivi des prospects", "").reason == NOTHING


def test_a_quote_running_beyond_the_passage_fails() -> None:
    first, second = "Le projet n’est passé en production qu’en mars 2023.", "Il a été suivi de trois mois de tests."
    check = fails("passé en production qu’en mars 2023. Il a été suivi", first)
    assert check.reason == (
        "la citation déborde de ce passage : son début (« passé en production qu’en mars 2023. ») en est la fin, "
        "la suite (« Il a été suivi ») n'y figure pas ; une citation doit provenir d'un seul passage"
    )
    check = fails("qu’en mars 2023, il a été suivi de trois mois", second)
    assert check.reason == (
        "la citation déborde de ce passage : sa fin (« il a été suivi de trois mois ») en est le début, "
        "ce qui précède (« qu’en mars 2023, ») n'y figure pas ; une citation doit provenir d'un seul passage"
    )


def test_a_quote_found_in_the_passage_but_one_word_is_not_said_to_run_beyond_it() -> None:
    passage = "Page 14 | DOSSIER PROFESSIONNEL du 11/09/2017\nMes réalisations en entreprise.\nPage 15"
    assert fails("Page 15 | DOSSIER PROFESSIONNEL du 11/09/2017", passage).reason == (
        "citation inexacte : le passage porte « 14 » là où la citation porte « 15 »"
    )


def test_dot_leaders_of_the_passage_are_quoted_as_text() -> None:
    passage = "Fait à ..................Carnoët le ..............17/05/2025, pour servir et valoir."
    passes("Fait à ..................Carnoët le ..............17/05/2025", passage)
    assert fails("Fait à ..................Carnoët le ..............18/05/2025", passage).reason == (
        "citation inexacte : le passage porte « 17/05/2025 » là où la citation porte « 18/05/2025 »"
    )


def test_a_changed_short_word_fails() -> None:
    passage = "Il a conduit seul la négociation annuelle avec les trois fournisseurs de la centrale d’achat."
    check = fails(
        "On a conduit seul la négociation annuelle avec les trois fournisseurs de la centrale d’achat.", passage
    )
    assert check.reason == "citation inexacte : le passage porte « Il » là où la citation porte « On »"
    check = fails("Il a conduit seul la negociation annuelle", passage)
    assert (
        check.reason == "citation inexacte : le passage porte « négociation » là où la citation porte « negociation »"
    )
    assert fails("suivi des prospcts").reason == (
        "citation inexacte : le passage porte « prospects » là où la citation porte « prospcts »"
    )


def test_a_long_stitched_quote_fails() -> None:
    passage = LONG_A + GAP + LONG_B
    quote = LONG_A + LONG_B
    check = fails(quote, passage)
    assert check.reason == (
        "citation inexacte : la citation omet « Six semaines de travail en tout. » après « l’entreprise. »"
    )
    passes(LONG_A + GAP, passage)
    passes(GAP + LONG_B, passage)


def test_a_short_stitched_quote_fails() -> None:
    fails("j’ai piloté le développement de la boutique de Nantes")
    fails("suivi des prospects pour l’équipe analyse du chiffre d’affaires")


# --- rule 4: extracts joined by an ellipsis -----------------------------------------------


@pytest.mark.parametrize("marker", ["[…]", "[...]", "(...)", "(…)", "…", "...", ". . ."])
def test_extracts_joined_by_an_ellipsis_pass_and_each_is_highlighted(marker: str) -> None:
    quote = f"j’ai piloté le développement {marker} pour l’équipe commerciale"
    check = passes(quote)
    assert check.reason == "retrouvée en 2 extraits, dans l'ordre, reliés par « […] »"
    assert [PASSAGE[a:b] for a, b in check.spans] == ["j’ai piloté le déve-\nloppement", "pour l’équipe commerciale"]


def test_extracts_may_each_start_with_a_capital_letter() -> None:
    check = passes(
        "Au cours de mon alternance […] Le projet n’est passé […] qu’en mars 2023 […] Hausse de 12 % des ventes"
    )
    assert check.reason == "retrouvée en 4 extraits, dans l'ordre, reliés par « […] »"
    assert [PASSAGE[a:b] for a, b in check.spans] == [
        "Au cours de mon alternance",
        "Le projet n’est passé",
        "qu’en mars 2023",
        "hausse de 12 % des ventes",
    ]


ORDER = "une citation coupée reprend des extraits dans l'ordre du texte, sans chevauchement"


@pytest.mark.parametrize(
    ("quote", "reason"),
    [
        (
            "pour l’équipe commerciale […] j’ai piloté le développement",
            f"les 2 extraits reliés par « […] » figurent dans le passage, pas dans cet ordre ; {ORDER}",
        ),
        (
            "suivi des prospects pour […] prospects pour l’équipe",
            f"les 2 extraits reliés par « […] » figurent dans le passage, mais ils se chevauchent ; {ORDER}",
        ),
        (
            "j’ai piloté le développement […] commerciale",
            "extrait trop court : « commerciale » ; chaque extrait relié par « […] » doit compter au moins 2 mots",
        ),
        (
            "j’ai piloté le développement […] sans les deux jours",
            "extrait 2 sur 2 (« sans les deux jours ») : citation inexacte : "
            "le passage porte « dans » là où la citation porte « sans »",
        ),
    ],
    ids=["out-of-order", "overlapping", "one-word", "altered"],
)
def test_extracts_out_of_order_overlapping_too_short_or_altered_fail(quote: str, reason: str) -> None:
    assert fails(quote).reason == reason


def test_extracts_of_another_passage_fail() -> None:
    other = "Le devis a été validé par la direction régionale le 4 avril."
    assert fails("j’ai piloté le développement […] validé par la direction régionale").reason == (
        "extrait 2 sur 2 (« validé par la direction régionale ») : " + NOTHING
    )
    passes("Le devis a été validé […] par la direction régionale", other)


def test_an_ellipsis_the_candidate_wrote_may_be_quoted() -> None:
    passage = "Nous avons relancé les clients inactifs… puis mesuré le taux de retour."
    assert passes("relancé les clients inactifs… puis mesuré", passage).reason == AS_IS
    check = passes("relancé les clients inactifs... puis mesuré", passage)
    assert check.reason == TYPOGRAPHY and len(check.spans) == 1
    check = passes("relancé les clients […] le taux de retour", passage)
    assert [passage[a:b] for a, b in check.spans] == ["relancé les clients", "le taux de retour"]


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
    "c-3": chunk("c-3", "Les premiers résultats ont été présentés au comité de direction en juin.", page=6),
}


def test_citations_take_their_place_from_the_chunk() -> None:
    (citation,) = verify_citations([("c-2", "validé par la direction régionale")], PASSAGES)
    assert citation.verified
    assert (citation.file, citation.page, citation.locator) == ("dossier-professionnel.pdf", 9, "pages 9–10")
    assert citation.ocr is True
    assert citation.quote == "validé par la direction régionale"
    assert citation.verification == AS_IS


def test_a_quote_spanning_two_passages_fails_in_either() -> None:
    quote = "1 200 clients relancés ! Mise en œuvre du plan de fidélisation sur 2019–2021. Les premiers résultats"
    first, second = verify_citations([("c-1", quote), ("c-3", quote)], PASSAGES)
    assert not first.verified and not second.verified
    assert first.verification == (
        "la citation déborde de ce passage : son début (« 1 200 clients relancés ! Mise en œuvre du plan de "
        "fidélisation sur 2019–2021. ») en est la fin, la suite (« Les premiers résultats ») n'y figure pas ; "
        "une citation doit provenir d'un seul passage"
    )
    assert second.verification.startswith("la citation déborde de ce passage : sa fin (« Les premiers résultats »)")


def test_a_valid_passage_id_with_an_invented_quote_fails() -> None:
    (citation,) = verify_citations([("c-2", "le candidat a signé un contrat de dix millions d'euros")], PASSAGES)
    assert not citation.verified
    assert citation.verification == NOTHING


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
            ("c-1", "pour l’équipe commerciale […] j’ai piloté le développement"),
            ("c-1", "Le projet n’est passé en production qu’en mars 2024"),
        ],
        PASSAGES,
    )
    errors = errors_for_retry(citations)
    assert errors == [
        "Citation n°2 (passage c-404) : passage inconnu : « c-404 » ne fait pas partie des passages fournis",
        "Citation n°3 (passage c-1) : les 2 extraits reliés par « […] » figurent dans le passage, pas dans cet "
        f"ordre ; {ORDER}",
        "Citation n°4 (passage c-1) : citation inexacte : le passage porte « 2023 » là où la citation porte « 2024 »",
    ]
    assert errors_for_retry(citations[:1]) == []
    assert errors_for_retry([]) == []


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
    "qualité du service après-vente."
)


# --- properties ---------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


# Distinct one-token words (no apostrophe, no hyphen, none a token of SPELLINGS below), so
# that a passage made of distinct words never repeats a stretch of itself.
WORDS = list(
    dict.fromkeys(
        words("""
alternance client prospect relance devis commande facture marge remise objectif
tableau suivi analyse vente achat fournisseur stock livraison service conseiller boutique
agence direction responsable projet budget planning réunion atelier formation
compétence évaluation entretien négociation argumentaire catalogue produit gamme prix tarif
promotion campagne fichier segmentation fidélisation satisfaction enquête questionnaire
indicateur résultat chiffre semaine trimestre année janvier septembre mission stage poste
contrat partenaire salon événement vitrine rayon merchandising caisse inventaire réassort
commercial marketing digital réseau site courriel téléphone présentation officiel flux
rapport synthèse bilan priorité méthode outil logiciel base données export import qualité
délai retour réclamation litige garantie conformité sécurité hygiène accueil écoute besoin
solution offre proposition signature validation lancement pilotage efficacité
""")
    )
)

# Words of no passage.
FOREIGN = words("""
girafe volcan trompette cerisier marmotte horloge boussole parapluie pingouin tambour
cathédrale hibou citrouille grenouille papillon kangourou orchidée sablier tournesol zèbre
""")

# Passage words in several spellings (the passage uses the first, a quote any of them), and
# numbers, signs and units.
SPELLINGS = [
    ("déve-\nloppement", "développement", "dévelop-\npement", "déve\u00adloppement"),
    ("l’entreprise", "l'entreprise", "lʼentreprise"),
    ("d’équipe", "d'équipe", "d‘équipe"),
    ("qu’il", "qu'il", "quʼil"),
    ("bien-être", "bien-\nêtre", "bien‑être", "bienêtre"),
    ("d’affaires", "d'affaires", "d’aﬀaires", "d'a\u200bffaires"),
    ("œuvre", "oeuvre"),
    ("conseillère", "conseille\u0300re"),
    ("2019–2021", "2019-2021", "2019—2021", "2019‐2021"),
    ("12\u202f%", "12 %", "12%", "12\u00a0%"),
    ("1\u202f200", "1 200", "1200", "1\u00a0200"),
    ("+4", "+4"),
    ("≥\u00a030", "≥ 30", "≥30"),
    ("35\u00a0€", "35 €", "35€"),
    ("−7", "-7", "–7"),
]
LIGATURES = {"fi": "ﬁ", "ff": "ﬀ", "fl": "ﬂ"}
SEPARATORS = [" ", " ", " ", "\n", ", ", " : ", ". ", " | ", " ; ", " ! "]
QUOTE_SEPARATORS = {
    " ": [" ", "\n", "  ", " \n ", "\u00a0", "\u202f"],
    "\n": [" ", "\n"],
    ", ": [", ", ",\n"],
    " : ": [" : ", ": ", " :\n", "\u202f: "],
    ". ": [". ", ".\n", ".  "],
    " | ": [" | ", " ", "\n| "],
    " ; ": [" ; ", "; ", "\u202f; "],
    " ! ": [" ! ", "! ", "\u00a0!\n"],
}
MARKS = [("", ""), ("« ", " »"), ("“", "”"), ('"', '"'), ("«\u00a0", "\u00a0»")]


@st.composite
def passages(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], list[tuple[str, ...]]]:
    """A passage of distinct words with random separators, each word's offsets and spellings."""
    plain = [(w,) for w in draw(st.lists(st.sampled_from(WORDS), min_size=4, max_size=60, unique=True))]
    special = draw(st.lists(st.sampled_from(SPELLINGS), max_size=8, unique=True))
    entries = draw(st.permutations(plain + special))
    text, spans = "", []
    for index, entry in enumerate(entries):
        if index:
            text += draw(st.sampled_from(SEPARATORS))
        spans.append((len(text), len(text) + len(entry[0])))
        text += entry[0]
    return text, spans, list(entries)


def spelt(entry: tuple[str, ...], data: st.DataObject) -> str:
    word = data.draw(st.sampled_from(entry))
    for plain, ligature in LIGATURES.items():
        if plain in word and data.draw(st.booleans()):
            word = word.replace(plain, ligature, 1)
    return re.sub("['’ʼ‘]", lambda _: data.draw(st.sampled_from("’'ʼ‘")), word)


@settings(max_examples=examples(300), deadline=None)
@given(passages(), st.data())
def test_any_stretch_of_three_words_or_more_passes_whatever_its_typography(
    drawn: tuple[str, list[tuple[int, int]], list[tuple[str, ...]]], data: st.DataObject
) -> None:
    passage, spans, entries = drawn
    first = data.draw(st.integers(0, len(spans) - 3))
    last = data.draw(st.integers(first + 2, len(spans) - 1))
    quote = ""
    for i in range(first, last + 1):
        if i > first:
            separator = passage[spans[i - 1][1] : spans[i][0]]
            quote += data.draw(st.sampled_from(QUOTE_SEPARATORS[separator]))
        quote += spelt(entries[i], data)
    if data.draw(st.booleans()) and quote[0].isalpha() and len(quote[0].upper()) == 1:  # not « ﬁ »
        quote = quote[0].swapcase() + quote[1:]
    opening, closing = data.draw(st.sampled_from(MARKS))
    quote = opening + quote + closing + data.draw(st.sampled_from(["", ".", "…", " […]"]))
    check = verify_quote(quote, passage)
    assert check.ok, (quote, passage, check.reason)
    assert check.spans == ((spans[first][0], spans[last][1]),), (quote, passage)


@settings(max_examples=examples(300), deadline=None)
@given(passages(), st.data())
def test_one_word_digit_or_sign_changed_fails_and_is_named(
    drawn: tuple[str, list[tuple[int, int]], list[tuple[str, ...]]], data: st.DataObject
) -> None:
    passage, spans, _ = drawn
    first = data.draw(st.integers(0, len(spans) - 4))
    last = data.draw(st.integers(first + 3, len(spans) - 1))
    quoted = list(range(first, last + 1))
    changes = ["replace", "insert", "delete"]
    symbolic = [i for i in quoted if any(c.isdigit() or c in "+−–-≥%€" for c in passage[slice(*spans[i])])]
    if symbolic:
        changes.append("symbol")
    change = data.draw(st.sampled_from(changes))
    # The quote as (separator before, word) pairs, verbatim before the change.
    pieces = [(passage[spans[i - 1][1] : spans[i][0]] if i > first else "", passage[slice(*spans[i])]) for i in quoted]
    at = data.draw(st.integers(0, len(pieces) - 1))
    named: list[str]
    if change == "replace":
        new = data.draw(st.sampled_from(FOREIGN))
        # At an end, « adds girafe » is as true as « girafe instead of »: the rest is a verbatim slice.
        named = [new, pieces[at][1]] if 0 < at < len(pieces) - 1 else [new]
        pieces[at] = (pieces[at][0], new)
    elif change == "insert":
        new = data.draw(st.sampled_from(FOREIGN))
        at = data.draw(st.integers(0, len(pieces)))
        named = [new]
        pieces.insert(at, (" ", new))
    elif change == "delete":
        at = data.draw(st.integers(1, len(pieces) - 2))  # an end word less is still a verbatim quote
        named = [pieces[at][1]]
        del pieces[at]
    else:
        at = quoted.index(data.draw(st.sampled_from(symbolic)))
        old = pieces[at][1]
        positions = [k for k, c in enumerate(old) if c.isdigit() or c in "+−–-≥%€"]
        k = data.draw(st.sampled_from(positions))
        swap = {"+": "−", "−": "+", "–": "+", "-": "+", "≥": "≤", "%": "€", "€": "%"}
        new_char = swap.get(old[k]) or data.draw(st.sampled_from("0123456789").filter(lambda d: d != old[k]))
        pieces[at] = (pieces[at][0], old[:k] + new_char + old[k + 1 :])
        named = [new_char]
    quote = "".join(separator + word for separator, word in pieces).strip(" ")
    check = verify_quote(quote, passage)
    assert not check.ok, (quote, passage, check.reason)
    assert check.spans == ()
    shown = normalize_text(check.reason)
    for word in named:
        assert (
            f"« {normalize_text(word)}" in shown
            or f"{normalize_text(word)} »" in shown
            or (len(word) == 1 and word in shown)
        ), (quote, passage, check.reason, named)


@settings(max_examples=examples(200), deadline=None)
@given(passages(), st.lists(st.sampled_from(FOREIGN), min_size=3, max_size=30))
def test_a_sentence_from_elsewhere_fails(
    drawn: tuple[str, list[tuple[int, int]], list[tuple[str, ...]]], foreign: list[str]
) -> None:
    passage, _, _ = drawn
    check = verify_quote(" ".join(foreign).capitalize() + ".", passage)
    assert not check.ok and check.reason == NOTHING


@settings(max_examples=examples(200), deadline=None)
@given(passages(), st.data())
def test_two_separate_stretches_put_together_fail(
    drawn: tuple[str, list[tuple[int, int]], list[tuple[str, ...]]], data: st.DataObject
) -> None:
    passage, spans, _ = drawn
    n = len(spans)
    if n < 8:
        return
    a_first = data.draw(st.integers(0, n - 7))
    a_last = data.draw(st.integers(a_first + 1, n - 5))
    b_first = data.draw(st.integers(a_last + 2, n - 2))
    b_last = data.draw(st.integers(b_first + 1, n - 1))
    a = passage[spans[a_first][0] : spans[a_last][1]]
    b = passage[spans[b_first][0] : spans[b_last][1]]
    assert not verify_quote(a + " " + b, passage).ok
    check = verify_quote(f"{a} […] {b}", passage)
    assert check.ok, (a, b, passage, check.reason)
    assert check.spans == ((spans[a_first][0], spans[a_last][1]), (spans[b_first][0], spans[b_last][1]))
    assert not verify_quote(f"{b} […] {a}", passage).ok


@settings(max_examples=examples(500), deadline=None)
@given(st.text(alphabet="aeéz AÉŒœ E\u0301\u0300-–\n\r\t\u00a0\u202f\u00ad\u200b’'|«»:;.…ﬁ²1_•", max_size=60))
def test_the_matching_form_includes_the_projects_normalisation(text: str) -> None:
    assert matching_form(normalize_text(text)) == matching_form(text)


def test_the_vocabularies_share_no_token() -> None:
    spelling_tokens = {t for entry in SPELLINGS for t in re.findall(r"\w+", entry[0])}
    assert len(set(WORDS)) == len(WORDS) >= 100
    assert not (set(WORDS) | set(FOREIGN)) & spelling_tokens
    assert not set(WORDS) & set(FOREIGN)


def test_thousands_separators_and_table_cells() -> None:
    passage = "Prix : entre 5\n000 et 100 000 euros.\nEffectif | 296 | 305 | 312\nSoit 1 200 clients."
    passes("entre 5 000 et 100000 euros", passage)  # a number wrapped at a line end
    passes("Effectif | 296 | 305", passage)  # table cells are separate numbers
    passes("Effectif 296 305 312", passage)
    assert fails("Soit 1 clients", passage).reason == "citation inexacte : la citation omet « 200 » après « 1 »"
    assert fails("entre 5 000 et 100 001 euros", passage).reason == (
        "citation inexacte : le passage porte « 100 000 » là où la citation porte « 100 001 »"
    )


@pytest.mark.parametrize(
    ("quote", "passage", "reason"),
    [
        (
            "entreprise a validé le devis",
            "L’entreprise a validé le devis.",
            "citation inexacte : la citation coupe le mot « L’entreprise » (elle porte « entreprise »)",
        ),
        (
            "une hausse de 12",
            "Nous visons une hausse de 12% cette année.",
            "citation inexacte : la citation coupe le mot « 12% » (elle porte « 12 »)",
        ),
        (
            "nous l’avons fait aujourd",
            "Ce que nous l’avons fait aujourd’hui reste.",
            "citation inexacte : la citation coupe le mot « aujourd’hui » (elle porte « aujourd »)",
        ),
    ],
)
def test_a_quote_with_the_passage_tokens_still_may_not_cut_a_word(quote: str, passage: str, reason: str) -> None:
    assert fails(quote, passage).reason == reason


def test_punctuation_may_touch_the_quote() -> None:
    passes("Le projet a démarré", "Fin de la phase un.Le projet a démarré(voir annexe).")
    passes("Fin de la phase un", "Fin de la phase un.Le projet a démarré(voir annexe).")
    passes("voir annexe 3", "Le projet a démarré (voir annexe 3).")
