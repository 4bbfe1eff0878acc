"""``assessor assess`` and ``assessor demo``: a dossier's pre-assessment, as a report."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from assessor.cli.common import (
    ReferentialsOption,
    console,
    fail,
    library,
    output_format,
    progress_bar,
    settings,
    use_referentials,
    write_output,
)
from assessor.report import ReportFormat
from assessor.results import Mode

if TYPE_CHECKING:  # the pipeline (LangChain, chromadb, bm25s) is imported when a command runs
    from assessor.dossiers import DossierStore
    from assessor.results import Report
    from assessor.settings import LLMSettings


PACKAGE = Path(__file__).resolve().parents[1]


def samples_folder(package: Path = PACKAGE) -> Path:
    """The sample dossiers: the checkout's folder, or the copy a wheel carries (``assessor/_data``)."""
    checkout = package.parent.parent / "sample_dossiers"
    return checkout if checkout.is_dir() else package / "_data" / "sample_dossiers"


SAMPLES = samples_folder()
DEMO_SAMPLE = "omnicanal-b1"


def _dossier_id(files: list[Path]) -> str:
    digest = hashlib.sha256("".join(sorted(str(p.resolve()) for p in files)).encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", files[0].stem).strip("-")[:40] or "dossier"
    return f"{stem}-{digest}"


def _print_summary(report: Report) -> None:
    from rich.table import Table

    from assessor.report import summary
    from assessor.results import FLAG_LABELS, FLAG_SHORT_LABELS, Flag

    table = Table(
        title=f"Pré-lecture — {report.dossier.id} — {report.referential.id} ({', '.join(report.referential.blocks)})"
    )
    table.add_column("Critère", no_wrap=True)
    table.add_column("Proposition")
    table.add_column("Passages cités", justify="right")
    table.add_column("Alertes")
    for r in report.criteria:
        table.add_row(
            r.criterion_id,
            report.outcome_labels.get(r.outcome, r.outcome),
            str(len(r.citations)),
            escape(", ".join(FLAG_SHORT_LABELS[f] for f in r.flags if f is not Flag.EVIDENCE_ONLY)),
        )
    console.print(table)
    console.print("Synthèse : " + ", ".join(f"{label} : {n}" for label, n in summary(report).most_common()))
    for flag in report.flags:
        console.print(
            f"[bold red]Alerte :[/] {escape(FLAG_LABELS[flag.flag])} — {escape(flag.file)}, page {flag.page} : "
            f"« {escape(flag.excerpt)} »"
        )
    console.print(f"[dim]{escape(report.notice)}[/]")


def _run(
    store: DossierStore, dossier_id: str, ref_id: str, blocks: list[str], mode: Mode, llm: LLMSettings | None = None
) -> Report:
    from assessor.pipeline import assess_dossier

    ref = library().get(ref_id)
    for code in blocks:
        ref.block(code)  # unknown blocks fail before any work
    with progress_bar("critères") as update:
        return assess_dossier(
            store,
            dossier_id,
            ref,
            blocks=blocks,
            mode=mode,
            llm=llm,
            progress=lambda done, total, criterion_id: update(criterion_id, done, total),
        )


def assess(
    files: Annotated[
        list[Path] | None, typer.Argument(metavar="FICHIERS", help="Fichiers du dossier (PDF, DOCX, Markdown, texte).")
    ] = None,
    referential: Annotated[str, typer.Option("--referential", "-r", help="Identifiant du référentiel.")] = "",
    block: Annotated[
        list[str] | None, typer.Option("--block", "-b", help="Bloc à évaluer ; répétable (défaut : tous).")
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(
            help="jury (pré-lecture neutre), trainer (retour formatif) ou candidate (auto-vérification, sans note)."
        ),
    ] = Mode.JURY,
    llm: Annotated[
        str | None,
        typer.Option(
            help="baseline (repérage des passages sans modèle de langage) ou fournisseur:modèle : "
            "openai:…, mistral:…, anthropic:…, azure_openai:…, ollama:…, compatible:… (avec "
            "--llm-base-url), gguf:smollm2. Défaut : ASSESSOR_LLM__MODEL, sinon baseline."
        ),
    ] = None,
    llm_base_url: Annotated[str | None, typer.Option(help="Adresse d'un serveur compatible OpenAI ou Ollama.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, max=64, help="Critères évalués en parallèle.")] = None,
    local_only: Annotated[
        bool, typer.Option("--local-only", help="Refuser tout modèle hors de cette machine.")
    ] = False,
    assess_oral: Annotated[
        bool,
        typer.Option(
            "--assess-oral",
            help="Soumettre aussi au modèle les critères oraux ou de mise en situation, "
            "quand le dossier contient un compte rendu écrit de la situation.",
        ),
    ] = False,
    dossier: Annotated[
        str | None,
        typer.Option("--dossier", "-d", help="Identifiant du dossier (défaut : dérivé des fichiers)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Fichier du rapport ; son extension choisit le format : .json, .md, .html, .pdf, .docx ou .csv.",
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat | None, typer.Option("--format", "-f", help="Format du rapport affiché à l'écran (sans -o).")
    ] = None,
    referentials: ReferentialsOption = None,
) -> None:
    """Pré-lit un dossier critère par critère et écrit un rapport. Sans modèle configuré, le repérage
    des passages (--llm baseline) indique les passages à examiner, sans jamais juger."""
    use_referentials(referentials)
    if not referential:
        fail("précisez le référentiel : --referential ID (voir assessor referentials list).", code=2)
    if not files and not dossier:
        fail("donnez les fichiers du dossier, ou --dossier ID d'un dossier déjà ingéré.", code=2)
    from assessor.cli.dossiers import print_ingest_report
    from assessor.dossiers import DossierStore
    from assessor.llm import make_chat_model
    from assessor.report_documents import REPORT_WRITERS
    from assessor.settings import BASELINE

    written = output_format(output, REPORT_WRITERS, fmt)  # an unknown extension stops here, before any work
    current = settings()
    llm_settings = current.llm.overridden(
        model=llm,
        base_url=llm_base_url,
        concurrency=concurrency,
        local_only=local_only or None,  # a flag left off keeps the configured value
        assess_oral=assess_oral or None,
    )
    if llm_settings.model != BASELINE:
        make_chat_model(llm_settings)  # a missing key or a bad name fails before any work
    store = DossierStore(current)
    dossier_id = dossier or _dossier_id(list(files or []))
    if files:
        with progress_bar("préparation") as update:
            ingested = store.ingest(dossier_id, list(files), progress=update)
        print_ingest_report(ingested)
    report = _run(store, dossier_id, referential, list(block or []), mode, llm_settings)
    _print_summary(report)
    if written is not None:
        write_output(REPORT_WRITERS[written](report), output)


def report_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier à écrire (.json).")] = None,
) -> None:
    """Écrit le schéma JSON des rapports (résultat par critère, citations, alertes, usage)."""
    output_format(output, ["json"])
    write_output(json.dumps(report_json_schema(), ensure_ascii=False, indent=2) + "\n", output)


def report_json_schema() -> dict[str, object]:
    from assessor.results import Report

    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Rapport de pré-lecture Assessor"
    return schema


def demo(
    sample: Annotated[str, typer.Option(help="Dossier d'exemple de sample_dossiers/.")] = DEMO_SAMPLE,
    out: Annotated[Path, typer.Option("--out", help="Dossier où écrire les rapports.")] = Path("assessor-demo"),
) -> None:
    """La démonstration sans clé, sans serveur, sans réseau : pré-lecture d'un dossier d'exemple par le
    repérage des passages, avec un rapport en Markdown, HTML et JSON."""
    folder = SAMPLES / sample
    if not (folder / "labels.json").exists():
        known = ", ".join(sorted(p.parent.name for p in SAMPLES.glob("*/labels.json"))) or "aucun"
        fail(f"dossier d'exemple « {sample} » introuvable dans {SAMPLES} (disponibles : {known}).")
    from assessor.dossiers import DossierStore
    from assessor.report import render

    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    store = DossierStore(settings())
    dossier_id = f"exemple-{sample}"
    report_ingest = store.ingest(dossier_id, [folder / "dossier.pdf"])
    pages = sum(f.pages for f in report_ingest.dossier.files)
    console.print(
        f"Dossier d'exemple « {sample} » ({labels['candidate']}, {pages} pages) ingéré ; "
        f"référentiel {labels['referential']}, bloc {labels['block']}."
    )
    report = _run(store, dossier_id, labels["referential"], [labels["block"]], Mode.JURY)
    _print_summary(report)
    out.mkdir(parents=True, exist_ok=True)
    for fmt in ReportFormat:
        write_output(render(report, fmt), out / f"rapport.{fmt.value}")
