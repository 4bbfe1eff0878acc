"""YAML that people write or are sent (référentiels, the users file): size-capped, aliases bounded.

PyYAML's safe loader shares an aliased node instead of copying it, so loading nested aliases is
cheap; but whatever then walks the result (validation, error messages) walks every path, and
nine levels of nine aliases are 387 million strings. A file is refused when it is over its size
cap, when its nodes, counted as if every alias were copied out, pass ``MAX_NODES``, or when an
alias refers to itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assessor.errors import AssessorError

MAX_NODES = 1_000_000
"""Nodes of a document once its aliases are expanded: the largest référentiel shipped has about 5,000."""


class YamlLimitError(AssessorError, ValueError):
    """A YAML file over a limit; the message (French) names the limit."""

    code = "yaml-hors-limite"


def read_capped(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of a file, refused unread when it is larger than ``max_bytes``."""
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlLimitError(
            f"le fichier pèse {size / 1_000_000:.1f} Mo, au-delà de la limite de {max_bytes / 1_000_000:.0f} Mo "
            "pour un fichier YAML de ce type."
        )
    return path.read_text(encoding="utf-8")


def load(text: str, loader: type[yaml.SafeLoader | yaml.CSafeLoader] = yaml.SafeLoader) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree; ``YamlLimitError`` for an alias bomb, ``yaml.YAMLError`` as usual."""
    reader = loader(text)
    try:
        try:
            root = reader.get_single_node()
        except RecursionError:
            raise YamlLimitError("le fichier imbrique trop de listes ou de sections les unes dans les autres.") from (
                None
            )
        if root is None:
            return None, None
        if "&" in text:  # no anchor, no alias: nothing can expand (the composer refuses an undefined alias)
            _check_expansion(root)
        return reader.construct_document(root), root
    finally:
        reader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes as if every alias were copied, each shared node once (iteratively: no recursion)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_NODES:
                raise YamlLimitError(
                    f"ses alias (« *nom ») se déplient en plus de {MAX_NODES:,} éléments".replace(",", " ")
                    + " : c'est une bombe d'alias, pas une description. Écrivez les éléments répétés en entier."
                )
            continue
        if key in open_nodes:
            raise YamlLimitError(
                f"l'alias de la ligne {node.start_mark.line + 1} se contient lui-même (structure récursive)."
            )
        open_nodes.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise YamlLimitError(
                    f"l'alias de la ligne {child.start_mark.line + 1} se contient lui-même (structure récursive)."
                )
            if id(child) not in sizes:
                stack.append((child, False))
