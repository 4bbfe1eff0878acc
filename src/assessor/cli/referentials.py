"""``assessor referentials``: list, show, validate and export the référentiels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from assessor.cli.common import (
    console,
    fail,
    library,
    output_format,
    print_json,
    print_problems,
    user_errors,
    write_output,
)
from assessor.grid import GridFormat, referential_json, render_grid
from assessor.library import Severity, check_file
from assessor.referential import MODALITY_KIND_LABELS, Referential

referentials_app = typer.Typer(
    help="Consulter, valider et exporter les référentiels (blocs, compétences, critères).",
    no_args_is_help=True,
)


@referentials_app.command("list")
def list_referentials(
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON lisible par un programme.")] = False,
) -> None:
    """Liste les référentiels disponibles, avec leurs nombres de blocs, compétences et critères."""
    entries: list[dict[str, Any]] = []
    for path, item in library().all():
        if isinstance(item, Referential):
            entries.append(
                {
                    "id": item.id,
                    "title": item.title,
                    "version": item.version,
                    "source": item.source.file,
                    "file": str(path),
                    **item.counts(),
                }
            )
        else:
            entries.append({"id": None, "file": str(path), "errors": [str(p) for p in item.problems]})
    if as_json:
        print_json(entries)
        return
    table = Table(title="Référentiels disponibles", show_lines=True)
    table.add_column("Référentiel (identifiant, intitulé, version)", ratio=1)
    for column in ("Blocs", "Compétences", "Critères"):
        table.add_column(column, justify="right", no_wrap=True)
    for entry in entries:
        if entry["id"] is None:
            table.add_row(
                f"[red]{escape(Path(entry['file']).name)}\nfichier invalide : voir « assessor "
                "referentials validate »[/]",
                "",
                "",
                "",
            )
        else:
            table.add_row(
                f"[bold]{entry['id']}[/]\n{escape(entry['title'])} ({escape(entry['version'])})",
                str(entry["blocks"]),
                str(entry["competencies"]),
                str(entry["criteria"]),
            )
    console.print(table)


def referential_tree(ref: Referential, block: str | None) -> Tree:
    counts = ref.counts()
    root = Tree(
        f"[bold]{escape(ref.title)}[/] ({ref.id}, version {escape(ref.version)}) — {counts['blocks']} blocs, "
        f"{counts['competencies']} compétences, {counts['criteria']} critères"
    )
    blocks = [ref.block(block)] if block else ref.blocks
    for b in blocks:
        b_node = root.add(f"[bold cyan]{b.code}[/] — {escape(b.title)}")
        if b.description:
            b_node.add(f"[italic dim]{escape(b.description)}[/]")
        mods = b_node.add("[bold]Modalités d'évaluation[/]")
        for m in b.modalities:
            mods.add(f"{m.id} [magenta]\\[{MODALITY_KIND_LABELS[m.kind]}][/] {escape(m.title)}")
        comps = b_node.add("[bold]Compétences[/]")
        kinds = {m.id: m.kind for m in b.modalities}
        for c in b.competencies:
            comps.add(
                f"[bold]{escape(c.code)}[/] [magenta]\\[{MODALITY_KIND_LABELS[kinds[c.modality]]}][/] "
                f"{escape(c.statement)}"
            )
        crits = b_node.add("[bold]Critères d'évaluation[/]")
        set_node = group_node = None
        current: tuple[str, str | None] | None = None
        for crit in ref.criteria_of(b.code):
            if set_node is None or current is None or current[0] != crit.set_key:
                set_node = crits.add(
                    f"[bold]{escape(crit.set_key)}[/] (compétences {escape(', '.join(crit.competencies))})"
                )
                current, group_node = None, None
            if current is None or current[1] != crit.group:
                group_node = set_node.add(f"[italic]{escape(crit.group)}[/]") if crit.group else set_node
            current = (crit.set_key, crit.group)
            assert group_node is not None
            group_node.add(f"[green]{escape(crit.id)}[/]  {escape(crit.text)}")
    return root


@referentials_app.command("show")
def show_referential(
    ref_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du référentiel (voir « list »).")],
    block: Annotated[str | None, typer.Option("--block", "-b", help="N'afficher que ce bloc (ex. B1).")] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Sortie JSON : chaque critère est un objet avec son « id » et son « text »."),
    ] = False,
) -> None:
    """Affiche un référentiel en arbre : blocs, modalités, compétences, critères et leurs identifiants."""
    with user_errors():
        ref = library().get(ref_id)
        if as_json:
            print_json(referential_json(ref, block))
        else:
            console.print(referential_tree(ref, block))


@referentials_app.command("validate")
def validate_referentials(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FICHIERS", help="Fichiers YAML ou dossiers à valider ; par défaut tous les référentiels connus."
        ),
    ] = None,
) -> None:
    """Vérifie des fichiers de référentiel : schéma, identifiants uniques, renvois entre compétences,
    modalités et critères, textes non vides. Chaque erreur indique le fichier, la ligne et l'endroit.
    Code de sortie 1 s'il y a au moins une erreur."""
    files: list[Path] = []
    for path in paths or []:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        elif path.exists():
            files.append(path)
        else:
            fail(f"{path} : fichier introuvable")
    if not paths:
        files = library().files()
    if not files:
        fail("aucun fichier de référentiel (.yaml) à valider")
    n_errors = 0
    for path in files:
        ref, problems = check_file(path)
        print_problems(problems)
        errors = sum(p.severity is Severity.ERROR for p in problems)
        n_errors += errors
        if ref is not None:
            c = ref.counts()
            console.print(
                f"[green]✓[/] {escape(str(path))} : {ref.id} — {c['blocks']} blocs, "
                f"{c['competencies']} compétences, {c['criteria']} critères"
            )
        else:
            console.print(f"[red]✗[/] {escape(str(path))} : {errors} erreur(s)")
    if n_errors:
        raise typer.Exit(1)


@referentials_app.command("export")
def export_grid(
    ref_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du référentiel.")],
    fmt: Annotated[GridFormat, typer.Option("--format", "-f", help="Format de la grille.")] = GridFormat.MD,
    block: Annotated[str | None, typer.Option("--block", "-b", help="N'exporter que ce bloc.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Fichier à écrire, au format de son extension (défaut : l'écran)."),
    ] = None,
) -> None:
    """Exporte la grille d'évaluation du jury : une ligne par critère, une colonne vide par verdict
    (json, csv séparé par « ; », ou md)."""
    fmt = GridFormat(output_format(output, GridFormat) or fmt)  # -o grille.csv: the extension decides
    with user_errors():
        ref = library().get(ref_id)
        write_output(render_grid(ref, fmt, block), output)


@referentials_app.command("schema")
def write_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier à écrire.")] = None,
) -> None:
    """Écrit le schéma JSON du format YAML des référentiels (pour les éditeurs et les outils)."""
    output_format(output, ["json"])
    with user_errors():
        write_output(json.dumps(referential_schema(), ensure_ascii=False, indent=2) + "\n", output)


def referential_schema() -> dict[str, Any]:
    schema = Referential.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Référentiel Assessor"
    return schema


def grid_table(ref: Referential, block: str) -> Table:
    """The jury's grid for the terminal: one row per criterion, one empty column per verdict."""
    b = ref.block(block)
    table = Table(title=f"Grille d'évaluation du jury — {b.code} {escape(b.title)}", show_lines=True)
    table.add_column("Critère", ratio=1)
    for level in ref.scale.levels:
        # Wide enough for the longest word of the label, so that headers wrap but never truncate.
        table.add_column(escape(level.label), width=max(5, *(len(word) for word in level.label.split())))
    for crit in ref.criteria_of(b.code):
        text = f"[green]{escape(crit.id)}[/]\n{escape(crit.text)}"
        table.add_row(text, *["" for _ in ref.scale.levels])
    return table
