"""The evaluation grid a jury fills in: one row per criterion, one empty column per verdict.

Also the JSON view of a référentiel in which every criterion is an object with its id.
"""

from __future__ import annotations

import csv
import io
import json
from itertools import islice
from typing import Any

from assessor.referential import (
    COMPETENCY_LEVEL_LABEL,
    MODALITY_KIND_LABELS,
    Block,
    Criterion,
    CriterionLevel,
    Referential,
)
from assessor.vocabulary import GridFormat

COMMENT_COLUMN = "Commentaire du jury"


def _blocks(ref: Referential, block: str | None) -> list[Block]:
    return [ref.block(block)] if block else list(ref.blocks)


def grid_rows(ref: Referential, block: str | None = None) -> list[Criterion]:
    codes = {b.code for b in _blocks(ref, block)}
    return [c for c in ref.criteria if c.block in codes]


def render_grid(ref: Referential, fmt: GridFormat, block: str | None = None) -> str:
    """The evaluation grid as JSON, CSV (UTF-8, ``;`` separated for French spreadsheets) or Markdown."""
    levels = ref.scale.levels
    rows = grid_rows(ref, block)
    if fmt is GridFormat.JSON:
        payload = {
            "referential": {
                "id": ref.id,
                "title": ref.title,
                "version": ref.version,
                "source": ref.source.file,
            },
            "blocks": [{"code": b.code, "title": b.title} for b in _blocks(ref, block)],
            "scale": [{"code": lv.code, "label": lv.label} for lv in levels],
            "criteria": [
                {
                    "id": c.id,
                    "block": c.block,
                    "competencies": c.competencies,
                    "group": c.group,
                    "text": c.text,
                    "level": str(c.level),
                    "modality_kinds": [str(k) for k in c.modality_kinds],
                    "verdict": None,
                    "comment": None,
                }
                for c in rows
            ],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    header = [
        "Bloc",
        "Compétences",
        "Identifiant",
        "Groupe",
        "Critère",
        "Modalité",
        *[lv.label for lv in levels],
        COMMENT_COLUMN,
    ]
    table = [
        [
            c.block,
            ", ".join(c.competencies),
            c.id,
            _group(c),
            c.text,
            _kinds(c),
            *["" for _ in levels],
            "",
        ]
        for c in rows
    ]
    if fmt is GridFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
        return out.getvalue()
    return _markdown(ref, block, rows)


def _group(c: Criterion) -> str:
    """The group column; a competency assessed as a whole says so there."""
    if c.level is CriterionLevel.COMPETENCY:
        return COMPETENCY_LEVEL_LABEL
    return c.group or ""


def _kinds(c: Criterion) -> str:
    return ", ".join(MODALITY_KIND_LABELS[k] for k in c.modality_kinds)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(ref: Referential, block: str | None, rows: list[Criterion]) -> str:
    levels = ref.scale.levels
    lines = [
        f"# Grille d'évaluation — {ref.title}",
        "",
        f"Référentiel `{ref.id}`, version {ref.version} (source : {ref.source.file}).",
        "",
    ]
    for b in _blocks(ref, block):
        lines += [f"## {b.code} — {b.title}", ""]
        comps = {c.code: c for c in b.competencies}
        current_set = None
        head = ["Identifiant", "Critère", *[lv.label for lv in levels], COMMENT_COLUMN]
        for c in (r for r in rows if r.block == b.code):
            if c.set_key != current_set:
                current_set = c.set_key
                statements = "; ".join(f"**{code}** {comps[code].statement}" for code in c.competencies)
                lines += [
                    "",
                    f"### {c.set_key} ({_kinds(c)})",
                    "",
                    statements,
                    "",
                    "| " + " | ".join(head) + " |",
                    "|" + "---|" * len(head),
                ]
            group = _group(c)
            text = f"*{_md_cell(group)}* — {_md_cell(c.text)}" if group else _md_cell(c.text)
            lines.append(f"| `{c.id}` | {text} |" + " |" * len(levels) + " |")
        lines.append("")
    return "\n".join(lines)


def referential_json(ref: Referential, block: str | None = None) -> dict[str, Any]:
    """The référentiel as JSON, criteria resolved into objects with their ``id`` and ``text``."""
    data = ref.model_dump(mode="json", exclude_none=True)
    by_set: dict[tuple[str, str], list[Criterion]] = {}
    for c in ref.criteria:
        by_set.setdefault((c.block, c.set_key), []).append(c)
    blocks = []
    for b_data in data["blocks"]:
        if block and b_data["code"].casefold() != block.casefold():
            continue
        for s_data in b_data["criteria"]:
            resolved = iter(by_set[(b_data["code"], s_data["key"])])
            for g_data in s_data["groups"]:
                g_data["criteria"] = [
                    {"id": c.id, "number": c.number, "text": c.text} for c in islice(resolved, len(g_data["criteria"]))
                ]
        blocks.append(b_data)
    if block and not blocks:
        ref.block(block)  # raises the KeyError that lists the known blocks
    data["blocks"] = blocks
    data["counts"] = ref.counts()
    return data
