"""``assessor ingest``, ``dossiers`` and ``search``: a candidate's files in, evidence out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from assessor.cli.common import (
    ReferentialsOption,
    console,
    data_dir,
    fail,
    library,
    overrides,
    print_json,
    progress_bar,
    settings,
    use_referentials,
)
from assessor.cli.french import confirm
from assessor.defaults import MAX_PAGES
from assessor.errors import UnknownName
from assessor.timefmt import local_date, local_time
from assessor.vocabulary import RETRIEVAL_MODE_LABELS, RetrievalMode
from assessor.wording import counted

if TYPE_CHECKING:
    from assessor.dossiers import Dossier, DossierStore, IngestReport
    from assessor.referential import Criterion
    from assessor.retrieval import Passage


def _store() -> DossierStore:
    """The dossiers of the current settings (imported here: the store brings the index and ingestion)."""
    from assessor.dossiers import DossierStore

    return DossierStore(settings())


dossiers_app = typer.Typer(help="Lister, afficher et supprimer les dossiers ingérés.", no_args_is_help=True)

DossierOption = Annotated[str, typer.Option("--dossier", "-d", help="Identifiant du dossier (ex. 2026-durand).")]


def ingest(
    files: Annotated[
        list[Path], typer.Argument(metavar="FICHIERS", help="Fichiers du dossier : PDF, DOCX, Markdown ou texte.")
    ],
    dossier: DossierOption,
    max_pages: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Refuser un PDF de plus de N pages (défaut {MAX_PAGES}, ou ASSESSOR_INGEST__MAX_PAGES).",
        ),
    ] = None,
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Lire les pages scannées avec tesseract.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
) -> None:
    """Ajoute les fichiers d'un candidat à un dossier : lecture, découpage et indexation.

    Tout ou rien : si un fichier est refusé, rien n'est enregistré. Un fichier déjà ingéré et
    inchangé n'est pas retraité ; un fichier modifié remplace l'ancienne version."""
    current = settings()
    ingest_settings = current.ingest.model_copy(
        update={"ocr": ocr, **({"max_pages": max_pages} if max_pages is not None else {})}
    )
    from assessor.dossiers import DossierStore

    store = DossierStore(current.model_copy(update={"ingest": ingest_settings}))
    with progress_bar("préparation") as progress:
        report = store.ingest(dossier, files, progress=progress)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    print_ingest_report(report)


def print_ingest_report(report: IngestReport) -> None:
    """The ingest summary: per file its pages, passages and notes (encoding, scanned or odd pages…)."""
    table = Table(title=f"Dossier {report.dossier.id}")
    for column in ("Fichier", "Pages", "Passages", "Remarques"):
        table.add_column(column, justify="right" if column in ("Pages", "Passages") else "left")
    for record in report.added:
        table.add_row(
            escape(record.name),
            str(record.pages),
            str(record.chunks),
            escape("\n".join(record.notes())) or "—",
        )
    for name in report.unchanged:
        table.add_row(escape(name), "", "", "inchangé : rien à refaire")
    console.print(table)
    if report.replaced:
        console.print(f"Remplacés par leur nouvelle version : {escape(', '.join(report.replaced))}")
    files, chunks = len(report.dossier.files), report.dossier.chunk_count
    console.print(f"Total : {counted(files, 'fichier')}, {counted(chunks, 'passage indexé', 'passages indexés')}.")


def _dossier_summary(d: Dossier) -> dict[str, Any]:
    return {
        "id": d.id,
        "files": len(d.files),
        "pages": sum(f.pages for f in d.files),
        "chunks": d.chunk_count,
        "updated_at": d.updated_at.isoformat(timespec="seconds"),
    }


@dossiers_app.command("list")
def list_dossiers(as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False) -> None:
    """Liste les dossiers ingérés."""
    items = _store().all()
    if as_json:
        print_json([_dossier_summary(d) for d in items])
        return
    if not items:
        console.print("Aucun dossier. Ajoutez-en un : assessor ingest FICHIERS… --dossier ID")
        return
    table = Table(title="Dossiers")
    for column in ("Identifiant", "Fichiers", "Pages", "Passages", "Mis à jour"):
        table.add_column(column)
    for d in items:
        s = _dossier_summary(d)
        table.add_row(d.id, str(s["files"]), str(s["pages"]), str(s["chunks"]), local_time(d.updated_at, zone=False))
    console.print(table)


@dossiers_app.command("show")
def show_dossier(
    dossier_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du dossier.")],
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
) -> None:
    """Affiche les fichiers d'un dossier : pages, passages, pages illisibles ou lues par OCR."""
    d = _store().get(dossier_id)
    if as_json:
        print_json(d.model_dump(mode="json"))
        return
    table = Table(title=f"Dossier {d.id} (créé le {local_date(d.created_at)})")
    for column in ("Fichier", "Type", "Pages", "Passages", "sha256", "Remarques"):
        table.add_column(column)
    for f in d.files:
        table.add_row(escape(f.name), f.kind, str(f.pages), str(f.chunks), f.sha256[:12], escape("\n".join(f.notes())))
    console.print(table)


@dossiers_app.command("delete")
def delete_dossier(
    dossier_id: Annotated[str, typer.Argument(metavar="ID", help="Identifiant du dossier.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ne pas demander confirmation.")] = False,
) -> None:
    """Supprime un dossier : ses passages indexés, ses fichiers conservés et sa fiche."""
    store = _store()
    d = store.get(dossier_id)
    if not yes:
        if not sys.stdin.isatty():
            fail("confirmation impossible sans terminal : ajoutez --yes pour supprimer.")
        if not confirm(f"Supprimer le dossier {d.id} ({counted(len(d.files), 'fichier')}) ?"):
            fail("rien n'a été supprimé.")
    removed = store.delete(dossier_id)
    console.print(f"Dossier {dossier_id} supprimé ({removed} passages retirés de l'index).")


def _criterion(criterion_id: str) -> Criterion:
    ref_id = criterion_id.split("/", 1)[0]
    ref = library().get(ref_id)
    for criterion in ref.criteria:
        if criterion.id == criterion_id:
            return criterion
    raise UnknownName(
        f"critère « {criterion_id} » introuvable dans {ref_id} (voir assessor referentials show {ref_id})."
    )


def _passage_json(p: Passage) -> dict[str, Any]:
    c = p.chunk
    return {
        "rank": p.rank,
        "chunk_id": c.id,
        "file": c.file,
        "page": c.page_start,
        "page_end": c.page_end,
        "locator": c.locator,
        "score": round(p.score, 6),
        "lexical_rank": p.lexical_rank,
        "dense_rank": p.dense_rank,
        "heading_path": c.heading_path,
        "ocr": c.ocr,
        "text": c.text,
    }


def search(
    query: Annotated[
        str | None, typer.Argument(metavar="TEXTE", help="Texte libre à chercher (ou --criterion).")
    ] = None,
    dossier: DossierOption = "",
    criterion: Annotated[
        str | None,
        typer.Option("--criterion", "-c", help="Identifiant d'un critère (ex. grands-comptes/B1/C2/1)."),
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Nombre de passages.")] = 8,
    mode: Annotated[RetrievalMode | None, typer.Option(help="lexical, dense ou fused (défaut : auto).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Afficher les passages en entier.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON : chunk_id, file, page, score, text…")] = False,
    referentials: ReferentialsOption = None,
) -> None:
    """Cherche dans un dossier les passages qui répondent à un critère ou à un texte libre."""
    use_referentials(referentials)
    if not dossier:
        fail("précisez le dossier : --dossier ID (voir assessor dossiers list).", code=2)
    if (query is None) == (criterion is None):
        fail("donnez soit un texte à chercher, soit --criterion ID (pas les deux).", code=2)
    from assessor.datafolder import require_dossier

    require_dossier(data_dir(), dossier)  # before the pipeline is imported: a refusal is instant
    from rich.panel import Panel

    store = _store()
    with progress_bar("préparation") as progress:
        retriever = store.retriever(dossier, progress=progress)
    if criterion:
        crit = _criterion(criterion)
        siblings = library().get(crit.referential).criteria_of(crit.block)
        passages = retriever.search_criterion(crit, k=k, mode=mode, siblings=siblings)
    else:
        assert query is not None
        passages = retriever.search(query, k=k, mode=mode)
    if as_json:
        print_json([_passage_json(p) for p in passages])
        return
    if criterion:
        console.print(f"[bold]Critère {escape(crit.id)}[/] — {escape(crit.text)}")
    console.print(
        f"{RETRIEVAL_MODE_LABELS[RetrievalMode(retriever.mode if mode is None else mode)].capitalize()} dans "
        f"{dossier} : "
        f"{counted(len(passages), 'passage')} sur {len(retriever.chunks)}."
    )
    for p in passages:
        c = p.chunk
        text = c.text if full or len(c.text) <= 700 else c.text[:700] + " […]"
        title = f"#{p.rank}  {escape(c.file)}, {escape(c.locator)}  score {p.score:.4f}" + ("  [OCR]" if c.ocr else "")
        subtitle = escape(" > ".join(c.heading_path)) if c.heading_path else None
        console.print(Panel(escape(text), title=title, title_align="left", subtitle=subtitle, subtitle_align="left"))


__all__ = ["dossiers_app", "ingest", "overrides", "print_ingest_report", "search"]
