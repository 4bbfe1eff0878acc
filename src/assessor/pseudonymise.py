"""Reversible pseudonymisation of a dossier's personal data before a remote provider reads it.

A ``Pseudonymiser`` serves one dossier. ``pseudonymise`` replaces the personal data it detects
by placeholders: ``[PERSONNE_1]``, ``[EMAIL_1]``, ``[TELEPHONE_1]``, ``[ADRESSE_1]``,
``[SIRET_1]``, ``[SIREN_1]``, ``[IBAN_1]``. The same entity keeps the same number in every
text of the dossier, so that the model can still follow who did what. ``restore`` puts the
originals back into what the model wrote (rationale, quotes copied from the pseudonymised
text), and tolerates the small changes a model makes to a placeholder (case, spaces, missing
brackets, a Markdown-escaped underscore).

An entity written in several ways (« Léa Morvan », « MORVAN Léa », « L. Morvan ») keeps its
number, and each further spelling gets a letter: ``[PERSONNE_1]``, ``[PERSONNE_1b]``… Thus
``restore(pseudonymise(text)) == text`` exactly, and a restored quote still matches the dossier.

Detection prefers precision: numbers are checked (Luhn for SIRET/SIREN, ISO 7064 mod 97 for
IBAN), addresses need a street number and a street type (or a postal code and a city), and a
person is a name given by the caller (the candidate's), a name after a civility (« M. Dupont »)
or a form label (« Nom : »), or a « Prénom Nom » whose first name is in ``data/prenoms.txt``.
Company names, a city or a first name alone, months and titles (« Madame la directrice ») are
left as they are.

Text of the dossier that ``restore`` would take for a placeholder (« ADRESSE_1 » as a column
name) is itself replaced, so that it comes back unchanged; only a placeholder this
pseudonymiser already emitted is left as it is (a text pseudonymised twice does not change).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

__all__ = ["KINDS", "Pseudonymiser"]

KINDS: tuple[str, ...] = ("PERSONNE", "EMAIL", "TELEPHONE", "ADRESSE", "SIRET", "SIREN", "IBAN")

# --------------------------------------------------------------------------- character classes

_SP = r"[ \t\u00a0\u202f]"  # a space within a line
_UP = "A-ZÀ-ÖØ-ÞŒŸ"
_LOW = "a-zß-öø-ÿœ"
_PRIVATE_USE = "\ue000-\uf8ff"  # bullets and symbols of PDF fonts, e.g. between the cover page fields


def _fold(text: str) -> str:
    """Lower case, without accents, with a straight apostrophe: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("’", "'")


@cache
def _first_names() -> frozenset[str]:
    path = Path(__file__).resolve().parent / "data" / "prenoms.txt"
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            names.add(_fold(name))
    return frozenset(names)


# --------------------------------------------------------------------------- e-mails, phones, numbers

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]*\w@\w[\w\-]*(?:\.[\w\-]+)*\.[A-Za-z]{2,}(?![\w\-])")

_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .\-])"
    r"(?:(?:\+|00)33[ \u00a0\u202f.\-]?(?:\(0\)[ \u00a0\u202f.\-]?)?[1-9]|0[1-9])"
    r"(?P<sep>[ \u00a0\u202f.\-]?)\d{2}(?:(?P=sep)\d{2}){3}"
    r"(?!\d)(?![ \u00a0\u202f.\-]\d)"
)

# A phone number split unusually (« 02 9812 3456 ») is taken only after a word that announces it.
_PHONE_LOOSE = re.compile(
    r"(?i:t[ée]l[ée]phone|t[ée]l|portable|mobile|fixe|fax|gsm)\.?[ \u00a0\u202f]*(?:\([^)\n]{0,20}\))?[ \u00a0\u202f]*"
    r"[:.]?[ \u00a0\u202f]*(?P<number>(?:(?:\+|00)33[ \u00a0\u202f.\-]?(?:\(0\)[ \u00a0\u202f.\-]?)?[1-9]|0[1-9])"
    r"(?:[ \u00a0\u202f.\-]?\d){8})(?!\d)(?![ \u00a0\u202f.\-]\d)"
)

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]){11,30}")
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
    "GR": 27, "IE": 22, "IT": 27, "LU": 20, "MC": 27, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
}  # fmt: skip

_BEFORE_NUMBER = r"(?<![\w.,])(?<!\d[ \u00a0\u202f.])"
_AFTER_NUMBER = r"(?!\w)(?![.,]\d)(?![ \u00a0\u202f]\d)"
_SIRET = re.compile(
    _BEFORE_NUMBER + r"\d{3}(?P<s>[ \u00a0\u202f.]?)\d{3}(?P=s)\d{3}(?P=s)(?:\d{5}|\d{3}(?P=s)\d{2})" + _AFTER_NUMBER
)
_SIREN = re.compile(_BEFORE_NUMBER + r"\d{3}(?P<s>[ \u00a0\u202f.]?)\d{3}(?P=s)\d{3}" + _AFTER_NUMBER)
# A number followed by a unit is a quantity, whatever its check digit.
_UNIT_AFTER = re.compile(
    r"[ \u00a0\u202f]*(?:[€$£%‰²³]|[kKM]€|(?:euros?|eur|ht|ttc|habitants|personnes|visiteurs|utilisateurs|clients"
    r"|abonnés|vues|clics|exemplaires|unités|tonnes|litres|km|kg|m2|m3|ko|mo|go|octets|ans|jours|heures)(?!\w))",
    re.IGNORECASE,
)


# Nine digits in one block are a SIREN only when announced: « SIREN : », « RCS Quimper », « n° ».
_ID_WORD_BEFORE = re.compile(
    r"(?:(?<!\w)(?i:siren|siret|rcs|tva|immatricul\w*)[^\n\d]{0,40}|(?<!\w)(?i:n°|numéro|no\.?)\W{0,5})$"
)


def _plausible_id(text: str, match: re.Match[str], kind: str) -> bool:
    """Guards besides the check digit: « 180 150 120 » (hours in a table) is not a SIREN."""
    groups = re.findall(r"\d+", match.group())
    if len(groups) > 1 and all(group.endswith("0") for group in groups):
        return False  # round figures
    if kind == "SIREN" and len(groups) == 1:  # nine digits in a row: an identifier, unless announced
        return _ID_WORD_BEFORE.search(text, max(0, match.start() - 40), match.start()) is not None
    return True


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _siren_ok(digits: str) -> bool:
    return len(digits) == 9 and digits != "000000000" and _luhn_ok(digits)


def _siret_ok(digits: str) -> bool:
    if len(digits) != 14 or set(digits) == {"0"}:
        return False
    if digits.startswith("356000000"):  # La Poste: its establishments follow a sum-of-digits rule
        return _luhn_ok(digits) or sum(int(c) for c in digits) % 5 == 0
    return _luhn_ok(digits)


def _iban_ok(compact: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --------------------------------------------------------------------------- postal addresses

_CAP = rf"[{_UP}][\w'’]*(?:-[\w'’]+)*"  # a capitalised word (or an all-caps one)
_ANY = r"[^\W\d_][\w'’]*(?:-[\w'’]+)*"  # a word in any case
_LEAD = rf"(?:(?i:de|du|des|la|le|les|aux|au){_SP}+|(?i:[dl])['’])"  # « de la », « des », « d' »
# Inside a street name, after its first word: « du Général de Gaulle », « Jean de La Fontaine », « de l'Orme »;
# not a bare « la » or « le », which are the sentence's articles (« rue des Lilas la semaine »).
_INNER_LEAD = rf"(?:(?i:de|du|des|aux|au){_SP}+(?:(?i:la|les|le){_SP}+|(?i:l)['’])?|(?i:[dl])['’])"
_FUNCTION_WORD = (
    r"(?i:de|du|des|la|le|les|l|d|au|aux|en|et|ou|sur|sous|pour|par|avec|dans|qui|que|est|sont|a|à|un|une|ce|cet"
    r"|cette|ces|son|sa|ses|mon|ma|mes|notre|nos|leur|leurs)(?![\w'’])"
)
_CONTACT_WORD = (
    r"(?:Tél|Tel|Téléphone|Portable|Mobile|Fax|Mail|Email|E-mail|Courriel|Siret|SIRET|Siren|SIREN|Iban|IBAN)(?![\w'’-])"
)
_NOT_A_STREET_WORD = (
    r"(?:(?:Le|La|Les|L|Il|Elle|Ils|Elles|Je|J|Nous|Vous|On|Ce|Cet|Cette|Ces|Un|Une|Des|Dans|En|Pour|Avec|Depuis"
    rf"|Puis|Et|Mais|Ou|Au|Aux|À|Si)(?![\w'’-])|{_CONTACT_WORD})"
)
_HEAD = rf"(?P<head>\d{{1,2}}(?:er)?{_SP}+{_CAP}|(?!{_FUNCTION_WORD}){_ANY})"
_TAIL = rf"(?:{_SP}+{_INNER_LEAD}?(?!{_NOT_A_STREET_WORD}){_CAP})*"
_STREET_NUMBER = rf"(?<![\w.,/:])(?<!\d{_SP})\d{{1,4}}(?:{_SP}?(?i:bis|ter|quater)(?!\w)|[A-D](?!\w))?"
# Street types that name a street whatever follows; the weak ones are also ordinary words
# (« 1 place disponible », « 3 cours d'anglais ») and need a capitalised name or a postal code.
_STRONG_TYPES = (
    r"(?i:rue|avenue|av\.|bd\.?|boulevard|allée|allee|impasse|quai|ruelle|venelle|chaussée|chaussee|faubourg|fbg"
    r"|lieu-dit|lieudit|lotissement)"
)
_WEAK_TYPES = (
    r"(?i:place|route|rte|chemin|cours|voie|passage|mail|clos|cité|cite|square|sentier|esplanade|promenade|parvis"
    r"|rond-point|résidence|residence|hameau|villa|domaine|zone|za|zi|zac|parc|allées|allees|quartier|traverse"
    r"|montée|montee|carrefour|corniche)"
)
_POSTAL_CODE = r"(?<!\d)(?:0[1-9]|[1-8]\d|9[0-5]|9[78]\d)\d{3}(?!\d)"
_CITY = (
    rf"(?:(?:Le|La|Les|L['’]){_SP}?)?(?:(?i:saint|sainte|st|ste)[ \u00a0-])?{_CAP}"
    rf"(?:{_SP}+(?:sur|sous|en|lès|lez|de|du|des|aux|au){_SP}+{_CAP})*"
    rf"(?:{_SP}+(?i:cedex)(?:{_SP}+\d{{1,2}})?)?"
)
_TO_POSTAL_CODE = rf"{_SP}*[,\-–]?{_SP}*\n?{_SP}*"
_TO_CITY = rf"{_SP}*,?{_SP}*"
_STREET = re.compile(
    rf"(?:(?P<num>{_STREET_NUMBER}){_SP}*,?{_SP}*)?(?<!\w)(?:(?P<strong>{_STRONG_TYPES})|(?P<weak>{_WEAK_TYPES}))"
    rf"(?![\w\-]){_SP}+{_LEAD}*{_HEAD}{_TAIL}"
    rf"(?:{_TO_POSTAL_CODE}(?P<cp>{_POSTAL_CODE}){_TO_CITY}{_CITY})?"
)
# « 7, Kerléo, 29170, Fouesnant »: a number and a place name without street type, then a postal code and a city.
_PLACE = re.compile(
    rf"{_STREET_NUMBER}(?:{_SP}*,{_SP}*|{_SP}+)(?!{_CONTACT_WORD}){_CAP}(?:{_SP}+{_INNER_LEAD}?{_CAP}){{0,3}}"
    rf"(?:{_SP}*[,\n]{_SP}*|{_SP}+){_POSTAL_CODE}{_TO_CITY}{_CITY}"
)

# --------------------------------------------------------------------------- persons

_TOKEN = re.compile(r"(?<![\w'’\-])[^\W\d_]+(?:['’\-][^\W\d_]+)*(?!\w)")
_GAP = re.compile(r"[ \u00a0\u202f]{1,3}")
_INITIAL_GAP = re.compile(r"\.[ \u00a0\u202f]{0,3}")

_CIVILITIES_WITH_DOT = {"M", "MM"}  # « M. Dupont »: the dot is required
_CIVILITIES = {"Mme", "Mmes", "Mlle", "Mlles", "Mr", "Dr", "Pr", "Me"}  # optional dot
_CIVILITY_WORDS = {"monsieur", "madame", "mademoiselle", "maitre", "docteur", "professeur"}

_PARTICLES = {"de", "du", "des", "van", "von", "da", "di", "del", "della", "le", "la", "ben", "ibn", "el"}
_CAPITALISED_PARTICLES = {"Le", "La", "De", "Du", "Des", "Van", "Von", "Da", "Di", "Del", "Ben"}
_LOWER_PARTICLES_AT_START = {"de", "du", "des", "van", "von", "da", "di", "del", "della"}  # not « la directrice »


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are not surnames: titles and jobs, company and institution words, months and days,
# headings. Compared folded (lower case, no accents).
_NOT_A_NAME = _words(
    """
    maire president presidente directeur directrice ministre prefet prefete recteur rectrice proviseur proviseure
    principal principale juge professeur professeure docteur docteure responsable gerant gerante chef cheffe
    manager tuteur tutrice formateur formatrice jury candidat candidate developpeur developpeuse consultant
    consultante assistant assistante stagiaire conseiller conseillere adjoint adjointe secretaire commercial
    commerciale technicien technicienne ingenieur ingenieure administrateur administratrice coordinateur
    coordinatrice coordonnateur animateur animatrice charge chargee comptable vendeur vendeuse apprenti apprentie
    salarie salariee employe employee client cliente fondateur fondatrice associe associee lead senior junior
    expert experte auteur autrice president-directeur sas sarl eurl sasu sci snc groupe group holding immobilier
    immobiliere automobiles automobile consulting conseil conseils services service industrie industries
    distribution france international internationale nationale national travail competences telecom formation
    formations emploi entreprise entreprises solutions digital numerique design studio agence association academy
    academie institut university universite ecole lycee college bank banque assurance assurances pharma
    cosmetiques editions productions production software technologies technologie tech systems systemes fils
    freres associes partners partenaires compagnie company consultants transports transport logistique batiment
    renovation communication marketing media medias events evenements restauration traiteur boulangerie patisserie
    chambre boutique magasin commerce literie maison habitat energie energies environnement sante medical bricolage
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre lundi mardi mercredi
    propre jeudi vendredi samedi dimanche dossier professionnel professionnelle titre projet annexe annexes sommaire
    introduction conclusion partie activite exemple page date nom prenom adresse signature web mobile code data
    cloud app application site personne email telephone siret siren iban
    """
)
_ACRONYMS = _words(
    """
    SAS SARL SA EURL SASU SCI SNC GIE CEO CTO CFO COO DRH RH PDG DG DAF CDI CDD CV RNCP VAE DP BTS DUT BUT CAP BEP
    BAC IUT CFA AFPA UX UI SEO SEA SQL PHP HTML CSS JS API REST JSON XML HTTP HTTPS URL AWS GCP IT IA AI PME TPE
    ETI TVA HT TTC KPI ROI CRM ERP MVC POO CRUD UML MCD MLD MPD SGBD DWWM CDA TP CCP CP OK USA UE EU PDF RGPD CNIL
    CAF URSSAF SNCF EDF RATP PNG JPG SVG FAQ NB PS CSE CHSCT QSE QHSE SI DSI MOA MOE BDD NPM GIT IDE JWT CMS SEO
    SMS PERSONNE EMAIL TELEPHONE ADRESSE SIRET SIREN IBAN
    """
)
# After a name, these words make it a company's: « Marie Dupont Immobilier », « Jean Martin SARL ».
_COMPANY_WORDS = _words(
    """
    sas sarl eurl sasu sci snc sa groupe group holding immobilier immobiliere automobiles automobile consulting
    conseil conseils services industrie industries distribution france international solutions digital design
    studio agence associes fils freres partners compagnie company consultants transports logistique renovation
    communication marketing media events evenements restauration traiteur boulangerie patisserie literie habitat
    energie technologies systems software productions editions assurances bank banque pharma cosmetiques bricolage
    """
)
# Brands named after a person, frequent in retail and marketing dossiers (compared folded).
_BRANDS = frozenset(
    {
        "yves rocher", "louis vuitton", "christian dior", "pierre cardin", "pierre fabre", "jean lain",
        "jacques dessange", "franck provost", "camille albane", "yves delorme", "guy degrenne", "marie claire",
        "jean paul gaultier", "yves saint laurent", "nina ricci", "pierre herme", "paul smith", "hugo boss",
        "michel et augustin", "leon de bruxelles", "jean louis david", "victor hugo",
    }
)  # fmt: skip
# A first name right after these words names a place or an institution: « lycée Victor Hugo ».
_PLACE_BEFORE_NAME = _words(
    """
    rue avenue boulevard bd allee allees place quai impasse chemin route square cours lycee college ecole
    universite faculte institut centre hopital clinique stade salle parc espace fondation prix musee theatre
    cinema gymnase mediatheque bibliotheque residence societe entreprise groupe marque enseigne magasin boutique
    restaurant hotel association pont station gare metro aeroport port promotion promo club maison domaine chateau
    ets etablissements agence campus cite quartier caserne complexe piscine batiment programme projet application
    appli site logiciel plateforme label editions librairie saint sainte st ste
    """
)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    fold: str


def _is_upper_word(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _is_title_word(word: str) -> bool:
    core = re.sub(r"^[dDlL]['’]", "", word)
    return len(core) >= 2 and core[0].isupper() and any(c.islower() for c in core)


@dataclass(frozen=True)
class _Person:
    """The parts of a detected name, folded: compared to link spellings of one person."""

    first: frozenset[str] = frozenset()
    initials: frozenset[str] = frozenset()
    last: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    kind: str
    key: str = ""
    person: _Person | None = None
    known: int | None = None  # index of the known name


@dataclass
class _Entity:
    kind: str
    number: int
    spellings: list[str]
    person: _Person = field(default_factory=_Person)
    seen: bool = False
    literal: bool = False  # text of the dossier that looked like a placeholder, protected


def _suffix(index: int) -> str:
    """'' for the first spelling of an entity, then 'b', 'c'… 'z', 'zb'…"""
    if index == 0:
        return ""
    letters = "bcdefghijklmnopqrstuvwxyz"
    return letters[index - 1] if index <= len(letters) else "z" + _suffix(index - len(letters))


# --------------------------------------------------------------------------- restoring

_KIND_NAMES = r"PERSONNE|E-?MAIL|T[EÉ]L[EÉ]PHONE|ADRESSE|SIRET|SIREN|IBAN"
_RESTORE = re.compile(
    rf"\\?\[\s*((?i:{_KIND_NAMES}))\s*(?:\\?_|-|\s)?\s*(\d+)\s*((?i:[a-z]*))\s*\\?\]"
    rf"|(?<!\w)({_KIND_NAMES})\\?_(\d+)([a-z]*)(?!\w)"
)


_LITERAL = "\0"  # key prefix of a protected literal


def _canonical_kind(name: str) -> str:
    return _fold(name).upper().replace("-", "")


# --------------------------------------------------------------------------- known names


_ACCENTED = {"a": "àâä", "c": "ç", "e": "éèêë", "i": "îï", "o": "ôö", "u": "ùûü", "y": "ÿ", "n": "ñ"}


def _flexible(word: str) -> str:
    """A pattern matching ``word`` in any case, with or without accents."""
    parts = []
    for char in word:
        if char in "'’":
            parts.append("['’]")
        elif char == "-":
            parts.append(r"[-\u2010\u2011 ]")
        elif char.isalpha():
            base = _fold(char)
            variants = {char.lower(), char.upper()}
            if len(base) == 1:
                variants |= {base, base.upper()} | set(_ACCENTED.get(base, "")) | set(_ACCENTED.get(base, "").upper())
            variants = {v for v in variants if len(v) == 1}
            parts.append("[" + "".join(sorted(variants)) + "]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


_RUN_SEP = rf"(?:[\s|{_PRIVATE_USE}]+|(?<=[{_LOW}])(?=[{_UP}]))"  # « LéaMORVAN » lost its space
_WORD_START = rf"(?:(?<![^\W_])|(?<=[{_LOW}])(?=[{_UP}]))"
_WORD_END = rf"(?:(?![^\W_])|(?<=[{_LOW}])(?=[{_UP}]))"


@dataclass(frozen=True)
class _KnownName:
    spelling: str
    person: _Person
    run: re.Pattern[str]
    surname: re.Pattern[str]
    handle: re.Pattern[str] | None


def _known_name(spelling: str) -> _KnownName | None:
    tokens = [t for t in re.split(rf"[\s,|{_PRIVATE_USE}]+", spelling) if t]
    particles = [t for t in tokens if _fold(t) in _PARTICLES]
    words = [t for t in tokens if t not in particles and sum(c.isalpha() for c in t) >= 2]
    if not words:
        return None
    upper = [t for t in words if _is_upper_word(t)]
    if upper and len(upper) < len(words):  # « MORVAN Léa »
        last, first = upper, [t for t in words if t not in upper]
    else:
        first = [t for t in words if _fold(t) in _first_names()]
        last = [t for t in words if t not in first]
        if not last:
            first, last = words[:-1], words[-1:]
        elif not first and len(words) >= 2:
            first, last = words[:1], words[1:]
    alternatives = {_flexible(t) for t in words}
    for name in first:  # « L. Morvan », « J.-P. Morvan »
        pieces = name.split("-")
        alternatives.add(_flexible(name[0]) + r"\.")
        if len(pieces) > 1 and all(pieces):
            alternatives.add(r"\.?-?".join(_flexible(p[0]) for p in pieces) + r"\.")
    token = "(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + ")"
    particle = rf"(?:(?i:{'|'.join(sorted(_PARTICLES))}){_SP}+|(?i:[dl])['’])?"
    run = re.compile(rf"{_WORD_START}{token}(?:{_RUN_SEP}{particle}{token})*(?!\.\w){_WORD_END}")
    surnames = "|".join(sorted({_flexible(t) for t in last}, key=len, reverse=True))
    surname = re.compile(rf"{_WORD_START}(?:{surnames}){_WORD_END}")
    long_surnames = [_flexible(t) for t in last if len(t) >= 4]
    handle = (
        re.compile(rf"(?<=[/@])[\w\-.]*?(?:{'|'.join(long_surnames)})(?:[\w\-]|\.(?=\w))*") if long_surnames else None
    )
    person = _Person(
        first=frozenset(_fold(t) for t in first),
        initials=frozenset(_fold(t)[0] for t in first),
        last=frozenset(_fold(t) for t in last),
    )
    return _KnownName(" ".join(spelling.split()), person, run, surname, handle)


# --------------------------------------------------------------------------- the pseudonymiser


class Pseudonymiser:
    """Replaces a dossier's personal data by stable placeholders, and puts them back.

    ``known_names`` are the names to find whatever their spelling, first of all the
    candidate's from the dossier metadata; they get the first ``PERSONNE`` numbers.
    """

    def __init__(self, known_names: Sequence[str] = ()) -> None:
        self._entities: list[_Entity] = []
        self._counters: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._by_key: dict[tuple[str, str], _Entity] = {}
        self._by_spelling: dict[tuple[str, str], tuple[_Entity, str]] = {}
        self._restore_table: dict[tuple[str, int, str], str] = {}
        self._known: list[tuple[_KnownName, _Entity]] = []
        self._emitted: set[tuple[str, int, str]] = set()  # placeholders put in a text
        seen: set[str] = set()
        for spelling in known_names:
            known = _known_name(spelling) if spelling and spelling.strip() else None
            if known is None or _fold(known.spelling) in seen:
                continue
            seen.add(_fold(known.spelling))
            entity = self._new_entity("PERSONNE", known.spelling)
            entity.person = known.person
            self._known.append((known, entity))

    # ------------------------------------------------------------------ public API

    def pseudonymise(self, text: str) -> str:
        """``text`` with every detected entity replaced by its placeholder."""
        taken = bytearray(len(text))
        chosen: list[_Found] = []
        for found in self._detect(text):  # in order of priority
            if any(taken[found.start : found.end]):
                continue
            taken[found.start : found.end] = b"\x01" * (found.end - found.start)
            chosen.append(found)
        chosen.sort(key=lambda f: f.start)
        parts: list[str] = []
        position = 0
        for found in chosen:
            parts.append(text[position : found.start])
            parts.append(self._placeholder(found, text[found.start : found.end]))
            position = found.end
        parts.append(text[position:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        """``text`` with the placeholders put back to what they replaced; unknown ones are kept."""

        def original(match: re.Match[str]) -> str:
            return self._restore_table.get(self._placeholder_key(match), match.group())

        return _RESTORE.sub(original, text)

    @staticmethod
    def _placeholder_key(match: re.Match[str]) -> tuple[str, int, str]:
        if match.group(1) is not None:
            kind, number, suffix = match.group(1), match.group(2), match.group(3)
        else:
            kind, number, suffix = match.group(4), match.group(5), match.group(6)
        return _canonical_kind(kind), int(number), suffix.lower()

    @property
    def mapping(self) -> dict[str, str]:
        """Every placeholder this pseudonymiser can restore, with its original (for the audit)."""
        return {
            f"[{entity.kind}_{entity.number}{_suffix(index)}]": spelling
            for entity in self._entities
            for index, spelling in enumerate(entity.spellings)
        }

    @property
    def entities(self) -> dict[str, int]:
        """How many distinct entities of each kind were found in the texts so far."""
        counts: dict[str, int] = {}
        for entity in self._entities:
            if entity.seen and not entity.literal:
                counts[entity.kind] = counts.get(entity.kind, 0) + 1
        return {kind: counts[kind] for kind in KINDS if kind in counts}

    # ------------------------------------------------------------------ placeholders

    def _new_entity(self, kind: str, spelling: str) -> _Entity:
        self._counters[kind] += 1
        entity = _Entity(kind=kind, number=self._counters[kind], spellings=[spelling])
        self._entities.append(entity)
        self._restore_table[(kind, entity.number, "")] = spelling
        self._by_spelling[(kind, spelling)] = (entity, f"[{kind}_{entity.number}]")
        return entity

    def _placeholder(self, found: _Found, spelling: str) -> str:
        cached = self._by_spelling.get((found.kind, spelling))
        if cached is not None:
            entity = cached[0]
            entity.seen = True
            self._emitted.add((entity.kind, entity.number, _suffix(entity.spellings.index(spelling))))
            return cached[1]
        entity = self._entity(found, spelling)
        entity.seen = True
        if spelling not in entity.spellings:
            entity.spellings.append(spelling)
            self._restore_table[(entity.kind, entity.number, _suffix(len(entity.spellings) - 1))] = spelling
        suffix = _suffix(entity.spellings.index(spelling))
        placeholder = f"[{entity.kind}_{entity.number}{suffix}]"
        self._by_spelling[(found.kind, spelling)] = (entity, placeholder)
        self._emitted.add((entity.kind, entity.number, suffix))
        return placeholder

    def _entity(self, found: _Found, spelling: str) -> _Entity:
        if found.known is not None:
            return self._known[found.known][1]
        if found.person is not None:
            return self._person_entity(found.person, spelling)
        entity = self._by_key.get((found.kind, found.key))
        if entity is None:
            entity = self._new_entity(found.kind, spelling)
            entity.literal = found.key.startswith(_LITERAL)
            self._by_key[(found.kind, found.key)] = entity
        return entity

    def _person_entity(self, person: _Person, spelling: str) -> _Entity:
        """The person already met with this surname and compatible first names, else a new one."""
        matches = [
            entity
            for entity in self._entities
            if entity.kind == "PERSONNE" and entity.person.last & person.last and _compatible(entity.person, person)
        ]
        if not matches and not person.first:  # a first name alone (« Prénom | Léa »): the one person who has it
            matches = [e for e in self._entities if e.kind == "PERSONNE" and person.last <= e.person.first]
        if len(matches) == 1:
            entity = matches[0]
            entity.person = _Person(
                first=entity.person.first | person.first,
                initials=entity.person.initials | person.initials | frozenset(f[0] for f in person.first),
                last=entity.person.last | person.last,
            )
            return entity
        entity = self._new_entity("PERSONNE", spelling)
        entity.person = _Person(person.first, person.initials | frozenset(f[0] for f in person.first), person.last)
        return entity

    # ------------------------------------------------------------------ detection

    def _detect(self, text: str) -> Iterator[_Found]:
        """Every candidate entity, the most reliable detectors first."""
        for match in _RESTORE.finditer(text):  # text that ``restore`` would take for a placeholder
            if self._placeholder_key(match) not in self._emitted:  # ours (pseudonymised twice) stays
                kind = self._placeholder_key(match)[0]
                yield _Found(match.start(), match.end(), kind, key=_LITERAL + match.group())
        for match in _EMAIL.finditer(text):
            yield _Found(match.start(), match.end(), "EMAIL", key=match.group().casefold())
        yield from _ibans(text)
        for pattern, kind, valid in ((_SIRET, "SIRET", _siret_ok), (_SIREN, "SIREN", _siren_ok)):
            for match in pattern.finditer(text):
                digits = re.sub(r"\D", "", match.group())
                if valid(digits) and not _UNIT_AFTER.match(text, match.end()) and _plausible_id(text, match, kind):
                    yield _Found(match.start(), match.end(), kind, key=digits)
        for match in _PHONE.finditer(text):
            yield _Found(match.start(), match.end(), "TELEPHONE", key=_phone_key(match.group()))
        for match in _PHONE_LOOSE.finditer(text):
            start, end = match.span("number")
            yield _Found(start, end, "TELEPHONE", key=_phone_key(match.group("number")))
        for index, (known, _) in enumerate(self._known):
            if known.handle is not None:
                for match in known.handle.finditer(text):
                    yield _Found(match.start(), match.end(), "PERSONNE", known=index)
        yield from _addresses(text)
        for index, (known, _) in enumerate(self._known):
            for match in known.run.finditer(text):
                written = match.group()
                if not known.surname.search(written):
                    continue  # a first name or an initial alone
                if _RUN_SEP_FOUND.search(written) is None and not (
                    written[0].isupper() and _no_other_first_name(text, match.start(), known.person)
                ):
                    continue  # the surname alone: capitalised, and not « Paul Morvan » for « Léa Morvan »
                yield _Found(match.start(), match.end(), "PERSONNE", known=index)
        tokens = [_Token(m.start(), m.end(), m.group(), _fold(m.group())) for m in _TOKEN.finditer(text)]
        yield from _after_civility(text, tokens)
        yield from _after_label(text, tokens)
        yield from _first_name_then_surname(text, tokens)


_RUN_SEP_FOUND = re.compile(rf"[\s|{_PRIVATE_USE}]|[{_LOW}][{_UP}]")


_WORD_BEFORE = re.compile(r"([^\W\d_]+(?:-[^\W\d_]+)*)(\.?)[ \u00a0\u202f]{1,3}$")


def _no_other_first_name(text: str, start: int, person: _Person) -> bool:
    """Is the word before ``start`` neither another first name nor another initial?"""
    before = _WORD_BEFORE.search(text, max(0, start - 40), start)
    if before is None:
        return True
    word, dot = before.group(1), before.group(2)
    if len(word) == 1 and dot:
        return _fold(word) in person.initials
    return not (_is_title_word(word) and _fold(word) in _first_names() and _fold(word) not in person.first)


def _compatible(known: _Person, new: _Person) -> bool:
    """Could ``new`` be another spelling of ``known``? (Same surname checked by the caller.)"""
    if not known.first and not known.initials:
        return True
    if any(first not in known.first for first in new.first) and known.first:
        return False
    known_initials = known.initials | frozenset(f[0] for f in known.first)
    return all(initial in known_initials for initial in new.initials)


def _phone_key(written: str) -> str:
    digits = re.sub(r"\D", "", written.replace("(0)", ""))
    if digits.startswith("0033"):
        digits = "0" + digits[4:]
    elif digits.startswith("33") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits


def _ibans(text: str) -> Iterator[_Found]:
    for match in _IBAN.finditer(text):
        positions = [match.start() + i for i, c in enumerate(match.group()) if c.isalnum()]
        compact = "".join(text[p] for p in positions)
        expected = _IBAN_LENGTHS.get(compact[:2])
        lengths = [expected] if expected else [min(34, len(compact))]  # unknown country: the whole run or nothing
        for length in lengths:
            if length > len(compact) or not _iban_ok(compact[:length]):
                continue
            end = positions[length - 1] + 1
            if end < len(text) and text[end].isalnum():
                continue
            yield _Found(match.start(), end, "IBAN", key=compact[:length])
            break


def _addresses(text: str) -> Iterator[_Found]:
    for match in _STREET.finditer(text):
        has_postal_code = match.group("cp") is not None
        if match.group("num") is None and not has_postal_code:
            continue
        head = match.group("head")
        if match.group("weak") and not has_postal_code and not (head[0].isupper() or head[0].isdigit()):
            continue
        yield _Found(match.start(), match.end(), "ADRESSE", key=_address_key(match.group()))
    for match in _PLACE.finditer(text):
        yield _Found(match.start(), match.end(), "ADRESSE", key=_address_key(match.group()))


def _address_key(written: str) -> str:
    return " ".join(re.findall(r"\w+", _fold(written)))


def _adjacent(text: str, before: _Token, after: _Token) -> bool:
    gap = text[before.end : after.start]
    if len(before.text) == 1 and before.text.isupper() and gap.startswith("."):
        return _INITIAL_GAP.fullmatch(gap) is not None
    return _GAP.fullmatch(gap) is not None


def _role(text: str, token: _Token, first_in_run: bool) -> str | None:
    """'initial', 'particle', 'name' or None (not part of a name)."""
    if len(token.text) == 1:
        return "initial" if token.text.isupper() and text.startswith(".", token.end) else None
    if token.fold in _PARTICLES:
        if token.text in _CAPITALISED_PARTICLES:  # « Le Gall », « De Gaulle », « Van Damme »
            return "particle"
        if token.text.islower():  # not « la directrice », « le Maire »
            return "particle" if not first_in_run or token.fold in _LOWER_PARTICLES_AT_START else None
    if token.fold in _NOT_A_NAME or (_is_upper_word(token.text) and token.text.upper() in _ACRONYMS):
        return None
    if _is_title_word(token.text) or _is_upper_word(token.text):
        return "name"
    return None


def _name_run(text: str, tokens: list[_Token], start: int, limit: int = 6) -> list[tuple[_Token, str]]:
    """The adjacent tokens from ``start`` that may belong to a name, with their role."""
    run: list[tuple[_Token, str]] = []
    for index in range(start, min(len(tokens), start + limit)):
        token = tokens[index]
        if run and not _adjacent(text, run[-1][0], token):
            break
        role = _role(text, token, first_in_run=not run)
        if role is None:
            break
        run.append((token, role))
    return run


def _person_found(text: str, chosen: list[tuple[_Token, str]], tokens_after: _Token | None) -> _Found | None:
    """A ``_Found`` for the chosen tokens ('first', 'surname', 'initial', 'particle'), or None."""
    while chosen and chosen[-1][1] in ("particle", "initial"):
        chosen = chosen[:-1]
    names = [(t, r) for t, r in chosen if r in ("first", "surname")]
    if not names:
        return None
    after = tokens_after
    if after is not None and after.fold in _COMPANY_WORDS and _adjacent(text, chosen[-1][0], after):
        return None  # « Marie Dupont Immobilier » is a company
    last = frozenset(t.fold for t, r in names if r == "surname") or frozenset({names[-1][0].fold})
    first = frozenset(t.fold for t, r in names if r == "first" and t.fold not in last)
    initials = frozenset(t.fold for t, r in chosen if r == "initial")
    return _Found(
        chosen[0][0].start, chosen[-1][0].end, "PERSONNE", person=_Person(first=first, initials=initials, last=last)
    )


def _is_civility(text: str, token: _Token) -> bool:
    after = text[token.end : token.end + 2]
    if token.text in _CIVILITIES_WITH_DOT:
        return after.startswith(".") and after[1:2] in (" ", "\u00a0", "\u202f")
    if token.text in _CIVILITIES:
        return after[:1] in (" ", "\u00a0", "\u202f") or (after[:1] == "." and after[1:2] in (" ", "\u00a0", "\u202f"))
    return token.fold in _CIVILITY_WORDS and after[:1] in (" ", "\u00a0", "\u202f")


def _after_civility(text: str, tokens: list[_Token]) -> Iterator[_Found]:
    """« M. Dupont », « Mme Claire Martin », « Madame Durand », « Maître Le Gall »."""
    first_names = _first_names()
    for index, token in enumerate(tokens[:-1]):
        if not _is_civility(text, token):
            continue
        following = tokens[index + 1]
        gap = text[token.end : following.start]
        if not re.fullmatch(r"\.?[ \u00a0\u202f]{1,3}", gap):
            continue
        run = _name_run(text, tokens, index + 1, limit=7)
        chosen: list[tuple[_Token, str]] = []
        pending: list[tuple[_Token, str]] = []
        for word, role in run:
            if role == "particle":
                if word.text in ("le", "la", "les") and not pending:
                    break  # an article of the sentence, not « de la Fontaine »
                pending.append((word, role))
                continue
            if role == "initial":
                if pending or any(r == "surname" for _, r in chosen):
                    break
                chosen.append((word, "initial"))
                continue
            is_first = word.fold in first_names and not _is_upper_word(word.text)
            if pending and is_first and any(r == "surname" for _, r in chosen):
                break  # « M. Kerbrat de Léa … »: a particle does not start a second person
            if chosen and not pending:
                previous = chosen[-1][1]
                if not (_is_upper_word(word.text) or previous in ("first", "initial") or is_first):
                    break
            chosen.extend(pending)
            pending = []
            chosen.append((word, "first" if is_first else "surname"))
            if sum(r in ("first", "surname") for _, r in chosen) >= 4:
                break
        if chosen and all(r != "surname" for _, r in chosen):  # « M. Martin »: the last name is the surname
            names = [i for i, (_, r) in enumerate(chosen) if r == "first"]
            if names:
                chosen[names[-1]] = (chosen[names[-1]][0], "surname")
        position = index + 1 + len(chosen)
        found = _person_found(text, chosen, tokens[position] if position < len(tokens) else None)
        if found is not None:
            yield found


_LABEL = re.compile(
    r"(?<![\w'’])(?i:(?:nom|pr[ée]nom)s?(?:[ \u00a0]*(?:et|,|/)[ \u00a0]*(?:nom|pr[ée]nom)s?)?"
    r"(?:[ \u00a0]+(?:de[ \u00a0]+naissance|d['’]usage|marital|du[ \u00a0]+candidat|de[ \u00a0]+la[ \u00a0]+candidate"
    r"|du[ \u00a0]+tuteur|de[ \u00a0]+la[ \u00a0]+tutrice|du[ \u00a0]+stagiaire|de[ \u00a0]+l['’]apprenti))?)"
    r"[ \u00a0\u202f]*[:|][ \u00a0\u202f]*(?=\S)"  # « Nom : X », or a form's table cells: « Nom | X »
)


def _after_label(text: str, tokens: list[_Token]) -> Iterator[_Found]:
    """The value of a form field: « Nom : Kerjean », « Prénom | Solène », « Nom et prénom : DUPONT Jean »."""
    first_names = _first_names()
    starts = {token.start: index for index, token in enumerate(tokens)}
    for label in _LABEL.finditer(text):
        index = starts.get(label.end())
        if index is None:
            continue
        run = _name_run(text, tokens, index, limit=4)
        while run and run[-1][1] != "name":
            run.pop()
        if not run or run[0][1] == "initial":
            continue
        names = [word for word, role in run if role == "name"]
        last = [w for w in names if w.fold not in first_names or _is_upper_word(w.text)] or names[-1:]
        chosen = [(w, "surname" if w in last else ("first" if r == "name" else r)) for w, r in run]
        found = _person_found(text, chosen, None)  # a field's value: no company check on what follows
        if found is not None:
            yield found


def _first_name_then_surname(text: str, tokens: list[_Token]) -> Iterator[_Found]:
    """« Claire Martin », « Léa MORVAN », « JEAN DUPONT », « DUPONT Jean »."""
    first_names = _first_names()
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index and _adjacent(text, tokens[index - 1], token) else None
        if previous is not None and (previous.fold in _PLACE_BEFORE_NAME or _is_civility(text, previous)):
            continue
        upper = _is_upper_word(token.text)
        found = None
        if token.fold in first_names and (_is_title_word(token.text) or upper):
            found = _first_name_run(text, tokens, index, _name_run(text, tokens, index), upper, previous)
        if found is None and upper and token.fold not in _NOT_A_NAME and token.text not in _ACRONYMS:
            found = _surname_first(text, tokens, index, previous)
        if found is not None and " ".join(_fold(text[found.start : found.end]).split()) in _BRANDS:
            found = None
        if found is not None:
            yield found


def _first_name_run(
    text: str,
    tokens: list[_Token],
    index: int,
    run: list[tuple[_Token, str]],
    upper: bool,
    previous: _Token | None,
) -> _Found | None:
    first_names = _first_names()
    if not run or run[0][1] != "name":
        return None
    if upper:  # « JEAN DUPONT »: exactly two all-caps words, not part of a heading
        if len(run) < 2 or run[1][1] != "name" or not _is_upper_word(run[1][0].text):
            return None
        if len(run[1][0].text) < 3 or (previous is not None and _is_upper_word(previous.text)):
            return None
        after = index + 2
        if after < len(tokens) and _adjacent(text, run[1][0], tokens[after]) and _is_upper_word(tokens[after].text):
            return None
        return _person_found(text, [(run[0][0], "first"), (run[1][0], "surname")], None)
    chosen: list[tuple[_Token, str]] = []
    position = 0
    while position < len(run) and len(chosen) < 3:  # the first names: « Marie Claire »
        word, role = run[position]
        if role != "name" or word.fold not in first_names or not _is_title_word(word.text):
            break
        chosen.append((word, "first"))
        position += 1
    pending: list[tuple[_Token, str]] = []
    while position < len(run) and run[position][1] == "particle":
        pending.append(run[position])
        position += 1
    surname_found = False
    if position < len(run) and run[position][1] == "name":
        word = run[position][0]
        if not _is_upper_word(word.text) or len(word.text) >= 3:
            chosen.extend(pending)
            chosen.append((word, "surname"))
            surname_found = True
            position += 1
            while (
                position < len(run)
                and run[position][1] == "name"
                and _is_upper_word(run[position][0].text)
                and len(run[position][0].text) >= 3
            ):  # a double surname in capitals
                chosen.append((run[position][0], "surname"))
                position += 1
    if not surname_found:
        if len(chosen) < 2:
            return None
        chosen[-1] = (chosen[-1][0], "surname")  # « Pierre Martin »: both are first names
    after = index + len(chosen)
    return _person_found(text, chosen, tokens[after] if after < len(tokens) else None)


def _surname_first(text: str, tokens: list[_Token], index: int, previous: _Token | None) -> _Found | None:
    """« DUPONT Jean »: an all-caps surname followed by a first name."""
    first_names = _first_names()
    token = tokens[index]
    if len(token.text) < 3 or index + 1 >= len(tokens) or (previous is not None and _is_upper_word(previous.text)):
        return None
    chosen = [(token, "surname")]
    position = index + 1
    while position < len(tokens) and len(chosen) < 3:
        word = tokens[position]
        if not (_adjacent(text, chosen[-1][0], word) and _is_title_word(word.text) and word.fold in first_names):
            break
        chosen.append((word, "first"))
        position += 1
    if len(chosen) < 2:
        return None
    return _person_found(text, chosen, tokens[position] if position < len(tokens) else None)
