"""``assessor referentials``: list, show, validate and export the référentiels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from assessor.cli.common import (
    ReferentialsOption,
    console,
    err_console,
    fail,
    library,
    output_format,
    print_json,
    print_problems,
    referentials_dirs,
    use_referentials,
    write_output,
)
from assessor.vocabulary import GridFormat
from assessor.wording import counted

if TYPE_CHECKING:
    from assessor.importer import Draft
    from assessor.library import ReferentialError
    from assessor.referential import Referential

referentials_app = typer.Typer(
    help="Consulter, valider et exporter les référentiels (blocs, compétences, critères).",
    no_args_is_help=True,
)


def _listing(path: Path, item: Referential | ReferentialError) -> dict[str, Any]:
    """How ``referentials list`` shows one file: its référentiel's counts, or why it is invalid."""
    from assessor.referential import Referential

    if isinstance(item, Referential):
        return {
            "id": item.id,
            "title": item.title,
            "version": item.version,
            "source": item.source.file,
            "file": str(path),
            **item.counts(),
        }
    return {"id": None, "file": str(path), "errors": [str(p) for p in item.problems]}


@referentials_app.command("list")
def list_referentials(
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON lisible par un programme.")] = False,
    referentials: ReferentialsOption = None,
) -> None:
    """Liste les référentiels disponibles, avec leurs nombres de blocs, compétences et critères."""
    use_referentials(referentials)
    from assessor.catalogue import cached_listing, referential_files, remember_listing, shipped_referentials_dir

    files = referential_files([*referentials_dirs(), shipped_referentials_dir()])
    entries = cached_listing(files)  # each file as it was validated last, if none has changed since
    if entries is None:
        read = list(library().all())
        entries = [_listing(path, item) for path, item in read]
        remember_listing([path for path, _ in read], entries)  # the files read, whatever the folders said
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


def referential_tree(ref: Referential, block: str | None, *, provenance: bool = False) -> Tree:
    from assessor.referential import COMPETENCY_LEVEL_LABEL, MODALITY_KIND_LABELS, CriterionLevel

    counts = ref.counts()
    draft = " [bold yellow]BROUILLON À RELIRE[/]" if ref.draft else ""
    root = Tree(
        f"[bold]{escape(ref.title)}[/] ({ref.id}, version {escape(ref.version)}) — {counts['blocks']} blocs, "
        f"{counts['competencies']} compétences, {counts['criteria']} critères{draft}"
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
            level = f" [magenta]({COMPETENCY_LEVEL_LABEL})[/]" if crit.level is CriterionLevel.COMPETENCY else ""
            leaf = group_node.add(f"[green]{escape(crit.id)}[/]  {escape(crit.text)}{level}")
            if provenance:
                leaf.add(f"[dim]lu dans : {escape(str(crit.provenance or 'non indiqué'))}[/]")
    return root


@referentials_app.command("show")
def show_referential(
    ref_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du référentiel (voir « list »).")],
    block: Annotated[str | None, typer.Option("--block", "-b", help="N'afficher que ce bloc (ex. B1).")] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Sortie JSON : chaque critère est un objet avec son « id » et son « text »."),
    ] = False,
    provenance: Annotated[
        bool,
        typer.Option(
            "--provenance",
            help="Sous chaque critère, où il a été lu (fichier et page, ou élément XML) : "
            "pour relire un brouillon importé.",
        ),
    ] = False,
    referentials: ReferentialsOption = None,
) -> None:
    """Affiche un référentiel en arbre : blocs, modalités, compétences, critères et leurs identifiants."""
    from assessor.grid import referential_json

    use_referentials(referentials)
    ref = library().get(ref_id)
    if as_json:
        print_json(referential_json(ref, block))
    else:
        console.print(referential_tree(ref, block, provenance=provenance))


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
    from assessor.library import Severity, check_file

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
            console.print(f"[red]✗[/] {escape(str(path))} : {counted(errors, 'erreur')}")
    if n_errors:
        raise typer.Exit(1)


@referentials_app.command("import")
def import_referential(
    sources: Annotated[
        list[Path],
        typer.Argument(
            metavar="SOURCE...",
            help="Export XML (ou zip) des fiches RNCP de France Compétences, référentiel PDF (RC, REAC, grille) "
            "ou son texte ; plusieurs sources se combinent : le XML donne blocs, codes et modalités, "
            "les PDF ajoutent leurs critères.",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Brouillon YAML à écrire, ou dossier existant (le fichier y prend le nom <id>.yaml) ; "
            "avec --all, le dossier des brouillons.",
        ),
    ],
    rncp: Annotated[
        str | None, typer.Option("--rncp", help="Fiche à prendre dans l'export XML (ex. RNCP37674).")
    ] = None,
    all_fiches: Annotated[
        bool, typer.Option("--all", help="Toutes les fiches de l'export XML, un brouillon par fiche dans -o DOSSIER.")
    ] = False,
    ref_id: Annotated[
        str | None, typer.Option("--id", help="Identifiant du référentiel (défaut : numéro RNCP et intitulé).")
    ] = None,
    ocr: Annotated[
        bool,
        typer.Option("--ocr", help="Lire par OCR (tesseract) les pages scannées d'un référentiel PDF."),
    ] = False,
) -> None:
    """Importe un référentiel en brouillon (draft: true) : blocs, compétences, modalités et critères, chacun
    avec sa provenance. Ce qui n'a pas pu être lu est listé, avec les pages, en tête du fichier. Là où aucun
    critère n'est imprimé, la compétence elle-même sert de critère (évaluée au niveau de la compétence).
    Rien n'est écrit si l'import échoue."""
    from assessor.importer import ImportFailure, import_sources  # PDF and XML readers: only for this command
    from assessor.importer.draft import write_atomically

    try:
        if all_fiches:
            _import_all(sources, output)
            return
        draft = import_sources(sources, rncp=rncp, ref_id=ref_id, ocr=ocr)
        if output.is_dir():  # a folder of référentiels: the file is named after the id
            output = output / f"{draft.referential.id}.yaml"
        write_atomically(output, draft.yaml())
    except ImportFailure as exc:
        fail(str(exc))
    _report_draft(draft, output)


def _import_all(sources: list[Path], folder: Path) -> None:
    from assessor.importer import ImportFailure, draft_of, iter_fiches
    from assessor.importer.draft import write_atomically

    if len(sources) != 1 or sources[0].suffix.lower() not in (".xml", ".zip"):
        fail("--all s'emploie avec un seul export XML (ou zip) des fiches RNCP.")
    if folder.exists() and not folder.is_dir():
        fail(f"{folder} : avec --all, -o désigne un dossier (un brouillon par fiche).")
    written = 0
    for fiche in iter_fiches(sources[0]):  # one fiche in memory at a time, however large the export
        try:
            draft = draft_of([fiche])
            path = folder / f"{draft.referential.id}.yaml"
            write_atomically(path, draft.yaml())
        except ImportFailure as exc:
            err_console.print(f"[yellow]{escape(fiche.rncp or '?')} non importée :[/] {escape(str(exc))}")
            continue
        written += 1
        counts = draft.referential.counts()
        err_console.print(f"{escape(fiche.rncp or '?')} → {escape(path.name)} ({counts['blocks']} blocs)")
    console.print(f"{counted(written, 'brouillon écrit', 'brouillons écrits')} dans {escape(str(folder))}")


def _report_draft(draft: Draft, output: Path) -> None:
    from assessor.referential import CriterionLevel

    ref = draft.referential
    counts = ref.counts()
    competency_level = sum(1 for c in ref.criteria if c.level is CriterionLevel.COMPETENCY)
    console.print(
        f"[green]✓[/] Brouillon écrit : {escape(str(output))} — {ref.id} : {counts['blocks']} blocs, "
        f"{counts['competencies']} compétences, {counts['criteria']} critères"
        + (f", dont {competency_level} au niveau de la compétence" if competency_level else "")
    )
    for item in draft.unread:
        console.print(f"[yellow]Non lu :[/] {escape(str(item))}", soft_wrap=True)
    console.print(
        f"À relire avant usage : assessor --referentials {escape(str(output.parent))} referentials show {ref.id} "
        "--provenance"
    )


@referentials_app.command("export")
def export_grid(
    ref_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du référentiel.")],
    fmt: Annotated[GridFormat, typer.Option("--format", "-f", help="Format de la grille.")] = GridFormat.MD,
    block: Annotated[str | None, typer.Option("--block", "-b", help="N'exporter que ce bloc.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Fichier à écrire, au format de son extension (défaut : l'écran)."),
    ] = None,
    referentials: ReferentialsOption = None,
) -> None:
    """Exporte la grille d'évaluation du jury : une ligne par critère, une colonne vide par verdict
    (json, csv séparé par « ; », ou md)."""
    from assessor.grid import render_grid

    use_referentials(referentials)
    fmt = GridFormat(output_format(output, GridFormat) or fmt)  # -o grille.csv: the extension decides
    ref = library().get(ref_id)
    write_output(render_grid(ref, fmt, block), output)


@referentials_app.command("schema")
def write_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier à écrire.")] = None,
) -> None:
    """Écrit le schéma JSON du format YAML des référentiels (pour les éditeurs et les outils)."""
    output_format(output, ["json"])
    write_output(json.dumps(referential_schema(), ensure_ascii=False, indent=2) + "\n", output)


def referential_schema() -> dict[str, Any]:
    from assessor.referential import Referential

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
