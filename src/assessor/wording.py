"""Counts as French readers write them: « 1 passage », « 3 passages », never « passage(s) »."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun (phrase) agreeing with it; French takes the singular for 0 and 1."""
    return f"{n} {singular if abs(n) < 2 else plural or _plural(singular)}"


def _plural(words: str) -> str:
    """The regular plural of each word of a short phrase (« critère décidé » → « critères décidés »)."""
    return " ".join(w if w.endswith(("s", "x", "z")) else w + "s" for w in words.split(" "))


def listed(items: list[str], singular: str, plural: str | None = None) -> str:
    """« colonne inconnue : x » or « colonnes inconnues : x, y »: the noun agrees with the list."""
    return f"{singular if len(items) < 2 else plural or _plural(singular)} : {', '.join(items)}"


def blocks_named(codes: list[str]) -> str:
    """« bloc B1 » or « blocs B1, B2 »."""
    return f"{'bloc' if len(codes) < 2 else 'blocs'} {', '.join(codes)}"
