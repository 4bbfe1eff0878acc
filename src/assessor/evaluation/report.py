"""The evaluation report, for a certification manager: Markdown (with PNG files next to it) and
self-contained HTML (plots as base64 PNG), from the same content.

The content is built once as a list of blocks (headings, paragraphs, lists, tables, figures)
and rendered to either format; every text is escaped in HTML. Plots use matplotlib's
object API (``Figure``, rendered by the Agg canvas): no pyplot state, no display needed.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox

from assessor.evaluation.compare import BootstrapUnit, Comparison, ComparisonRow
from assessor.evaluation.metrics import METRIC_LABELS, Evaluation, Metrics
from assessor.timefmt import local_time

NA = "n/a"
PERCENT_METRICS = frozenset(
    {
        "exact_agreement",
        "coverage",
        "accuracy",
        "adjacent",
        "abstention_rate",
        "missed_evidence",
        "recall_at_k",
        "evidence_hit_at_k",
        "retrieval_recall_at_k",
        "citation_precision",
        "insufficient_agreement",
        "not_assessable_agreement",
    }
)
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")


# --- Numbers in French -----------------------------------------------------------------------


def fmt_percent(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.0f} %"


def fmt_number(value: float | None, digits: int = 2) -> str:
    return NA if value is None else f"{value:.{digits}f}".replace(".", ",").replace("-", "−")


def fmt_metric(name: str, value: float | None) -> str:
    if name in PERCENT_METRICS:
        return fmt_percent(value)
    if name == "mean_cost_eur":
        return NA if value is None else f"{fmt_number(value, 4)} €"
    if name == "mean_seconds":
        return NA if value is None else f"{fmt_number(value, 1)} s"
    return fmt_number(value)


def fmt_difference(name: str, value: float | None) -> str:
    """A difference: percentage points for rates, plain numbers otherwise, always signed."""
    if value is None:
        return NA
    if name in PERCENT_METRICS:
        shown, unit = f"{abs(value) * 100:.0f}", " pts"
    elif name == "mean_cost_eur":
        shown, unit = fmt_number(abs(value), 4), " €"
    elif name == "mean_seconds":
        shown, unit = fmt_number(abs(value), 1), " s"
    else:
        shown, unit = fmt_number(abs(value)), ""
    zero = not any(c in "123456789" for c in shown)
    sign = "±" if zero else "+" if value > 0 else "−"  # a difference that rounds to zero has no sign
    return f"{sign}{shown}{unit}"


def fmt_interval(row: ComparisonRow) -> str:
    if row.low is None or row.high is None:
        return NA
    return f"[{fmt_difference(row.metric, row.low)} ; {fmt_difference(row.metric, row.high)}]"


# --- Content blocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric_from: int = 1
    """Columns from this index on are right-aligned (numbers)..."""
    numeric_to: int | None = None
    """...up to this index (excluded); None: to the last column."""

    def numeric(self, column: int) -> bool:
        return column >= self.numeric_from and (self.numeric_to is None or column < self.numeric_to)


@dataclass(frozen=True)
class Image:
    name: str
    alt: str


Block = Heading | Paragraph | Bullets | Table | Image


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1, numeric_to: int | None = None
) -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), numeric_from, numeric_to)


GROUP_COLUMNS = ("critères", "accord exact", "couverture", "exactitude", "κ", "κ pondéré", "adjacent", "abstention")


def _group_cells(m: Metrics) -> list[str]:
    return [
        str(m.criteria),
        fmt_percent(m.exact_agreement),
        fmt_percent(m.coverage),
        fmt_percent(m.accuracy),
        fmt_number(m.kappa),
        fmt_number(m.weighted_kappa),
        fmt_percent(m.adjacent),
        fmt_percent(m.abstention_rate),
    ]


def overall_rows(e: Evaluation) -> list[tuple[str, str, str]]:
    """(metric, value, what it is computed on) for the overall table."""
    m = e.overall
    abstentions = ", ".join(f"{e.label(code)} : {n}" for code, n in m.abstentions.items()) or "aucune"
    k = e.k
    return [
        (METRIC_LABELS["exact_agreement"], fmt_percent(m.exact_agreement), f"{m.criteria} critères étiquetés"),
        (
            METRIC_LABELS["coverage"],
            fmt_percent(m.coverage),
            f"{m.paired} verdicts de l'outil sur {m.gold_verdicts} verdicts du jury",
        ),
        (METRIC_LABELS["accuracy"], fmt_percent(m.accuracy), f"{m.paired} critères où les deux ont donné un verdict"),
        (METRIC_LABELS["kappa"], fmt_number(m.kappa), "idem"),
        (METRIC_LABELS["weighted_kappa"], fmt_number(m.weighted_kappa), "idem, écarts pondérés (échelle ordonnée)"),
        (METRIC_LABELS["adjacent"], fmt_percent(m.adjacent), "idem, au plus un niveau d'écart"),
        (METRIC_LABELS["abstention_rate"], fmt_percent(m.abstention_rate), f"{m.assessable} critères ({abstentions})"),
        (
            METRIC_LABELS["missed_evidence"],
            fmt_percent(m.missed_evidence),
            f"{m.with_evidence} critères avec preuves de référence",
        ),
        (
            METRIC_LABELS["insufficient_agreement"],
            fmt_percent(m.insufficient_agreement),
            f"{m.gold_insufficient} critères « preuves insuffisantes » pour le jury",
        ),
        (
            METRIC_LABELS["not_assessable_agreement"],
            fmt_percent(m.not_assessable_agreement),
            f"{m.gold_not_assessable} critères non évaluables à l'écrit pour le jury "
            f"(verdicts de l'outil sur ceux-ci : {m.verdicts_on_not_assessable})",
        ),
        (
            METRIC_LABELS["recall_at_k"].replace("@k", f"@{k}"),
            fmt_percent(m.recall_at_k),
            f"{m.gold_passages} passages de référence",
        ),
        (
            METRIC_LABELS["evidence_hit_at_k"].replace("@k", f"@{k}"),
            fmt_percent(m.evidence_hit_at_k),
            f"{m.with_evidence} critères avec preuves de référence",
        ),
        (
            METRIC_LABELS["retrieval_recall_at_k"].replace("@k", f"@{k}"),
            fmt_percent(m.retrieval_recall_at_k),
            "idem, première page des passages transmis (borne basse)",
        ),
        (
            METRIC_LABELS["citation_precision"],
            fmt_percent(m.citation_precision),
            f"{m.verified_citations} citations vérifiées des critères avec preuves de référence",
        ),
        (METRIC_LABELS["mean_cost_eur"], fmt_metric("mean_cost_eur", e.mean_cost_eur), f"{len(e.dossiers)} dossiers"),
        (METRIC_LABELS["mean_seconds"], fmt_metric("mean_seconds", e.mean_seconds), f"{len(e.dossiers)} dossiers"),
    ]


def _when(value: str) -> str:
    """An ISO timestamp as people read it (``assessor.timefmt``); anything else as given."""
    try:
        return local_time(datetime.fromisoformat(value))
    except ValueError:
        return value


def _run_description(e: Evaluation) -> str:
    model = f"{e.model} (aucun modèle de langage : repérage des passages)" if e.evidence_only else e.model
    parts = [f"Run « {e.run_name} » : modèle {model}"]
    if e.prompt_version:
        parts.append(f"version du prompt {e.prompt_version}")
    for key, words in (("started_at", "commencé le"), ("finished_at", "terminé le")):
        if e.info.get(key):
            parts.append(f"{words} {_when(str(e.info[key]))}")
    return ", ".join(parts) + "."


def comparison_table(comparison: Comparison) -> Table:
    rows = []
    for row in comparison.rows:
        rows.append(
            (
                row.label,
                fmt_metric(row.metric, row.a),
                fmt_metric(row.metric, row.b),
                fmt_difference(row.metric, row.difference),
                fmt_interval(row),
                "oui" if row.excludes_zero else "non",
            )
        )
    return _table(
        ("indicateur", f"A : {comparison.a}", f"B : {comparison.b}", "écart B − A", "IC 95 %", "IC hors de 0"), rows
    )


def _comparison_note(comparison: Comparison) -> str:
    unit = "des critères" if comparison.unit is BootstrapUnit.CRITERION else "des dossiers"
    caveat = (
        " Les critères d'un même dossier ne sont pas indépendants : l'intervalle est probablement trop étroit."
        if comparison.unit is BootstrapUnit.CRITERION
        else " Avec peu de dossiers, l'intervalle est grossier."
    )
    return (
        f"Comparaison appariée sur {comparison.criteria} critères de {comparison.dossiers} dossiers évalués par les "
        f"deux runs. Intervalle de confiance à 95 % par bootstrap ({comparison.resamples} tirages {unit} avec remise, "
        f"graine {comparison.seed} ; coût et durée : tirage des dossiers).{caveat} « n/a » : indicateur non défini "
        "pour l'un des runs (par exemple aucun verdict à comparer)."
    )


def _reading_guide(k: int) -> Bullets:
    return Bullets(
        (
            "Verdicts : les niveaux de l'échelle (acquis, partiellement acquis, non acquis). Abstentions de l'outil : "
            "« preuves insuffisantes », « à examiner » (repérage sans jugement), « non évaluable à l'écrit » et tout "
            "résultat « à revoir » (une personne doit regarder d'abord).",
            "Accord exact : part des critères où l'outil donne exactement la décision du jury, abstentions comprises "
            "(une abstention ne compte comme accord que si le jury a conclu de même, par exemple « preuves "
            "insuffisantes »).",
            "Couverture : part des verdicts du jury pour lesquels l'outil a aussi donné un verdict. L'exactitude, les "
            "κ et l'accord adjacent ne portent que sur ces critères : lisez-les toujours avec la couverture.",
            "κ de Cohen : accord corrigé du hasard (1 : parfait, 0 : pas mieux que le hasard). Repères usuels : "
            "0,21–0,40 faible, 0,41–0,60 modéré, 0,61–0,80 substantiel, au-delà presque parfait. Le κ pondéré "
            "quadratique pénalise davantage un écart de deux niveaux (acquis contre non acquis) que d'un niveau.",
            "Accord adjacent : part des verdicts appariés à au plus un niveau d'écart.",
            "Preuves manquées : part des critères pour lesquels le jury cite des passages et où l'outil conclut "
            "« preuves insuffisantes » ; c'est l'erreur la plus coûteuse, qui cache au jury un passage pertinent.",
            f"Rappel des preuves@{k} : part des passages de référence retrouvés par l'une des {k} premières "
            "citations vérifiées (même fichier, pages qui se recouvrent, citations qui se recouvrent pour au moins la "
            f"moitié de la plus courte). Rappel des passages@{k} : même chose avec les {k} premiers passages transmis "
            "à l'outil, comparés par leur première page seulement (borne basse).",
            f"Critères dont une preuve est citée@{k} : part des critères ayant des preuves de référence dont au "
            "moins une est retrouvée par l'une des premières citations vérifiées.",
            "Précision des citations : part des citations vérifiées, sur les critères qui ont des preuves de "
            "référence, qui désignent l'une d'elles.",
            "n/a : indicateur non défini (rien sur quoi le calculer, ou une seule classe pour κ).",
        )
    )


def build(
    evaluation: Evaluation, *, reference: Evaluation | None = None, comparison: Comparison | None = None
) -> list[Block]:
    """The report's content. ``reference`` is the run compared with (A), ``evaluation`` is B."""
    runs = [reference, evaluation] if reference else [evaluation]
    title = f"Évaluation de « {evaluation.run_name} » sur « {evaluation.dataset} »"
    if reference:
        title += f", comparée à « {reference.run_name} »"
    blocks: list[Block] = [
        Heading(1, title),
        Paragraph(
            "Ce rapport mesure l'accord entre les propositions de l'outil et les décisions d'un jury sur des dossiers "
            "déjà évalués. Il sert à choisir et surveiller un réglage ; il ne remplace pas le jury, qui décide seul "
            "de chaque critère. Sur peu de dossiers, les écarts de quelques points ne sont pas significatifs.",
            note=True,
        ),
        Bullets(tuple(_run_description(e) for e in runs)),
        Heading(2, "Indicateurs"),
    ]
    if reference:
        ref_rows = overall_rows(reference)
        main_rows = overall_rows(evaluation)
        blocks.append(
            _table(
                ("indicateur", f"A : {reference.run_name}", f"B : {evaluation.run_name}", "calculé sur (B)"),
                [(a[0], a[1], b[1], b[2]) for a, b in zip(ref_rows, main_rows, strict=True)],
                numeric_to=3,
            )
        )
    else:
        blocks.append(_table(("indicateur", "valeur", "calculé sur"), overall_rows(evaluation), numeric_to=2))
    if comparison:
        blocks += [Heading(2, "Comparaison des deux runs"), comparison_table(comparison)]
        blocks.append(Paragraph(_comparison_note(comparison), note=True))
    blocks.append(Heading(2, "Matrices de confusion"))
    blocks.append(
        Paragraph(
            "En ligne, la décision du jury ; en colonne, la proposition de l'outil. La diagonale est l'accord ; "
            "les colonnes d'abstention (preuves insuffisantes, à examiner, à revoir) montrent ce que l'outil laisse "
            "au jury."
        )
    )
    for i, e in enumerate(runs):
        blocks.append(Image(f"confusion-{i + 1}.png", f"Matrice de confusion de {e.run_name}"))
        blocks.append(
            _table(
                ("jury \\ outil", *[e.label(c) for c in e.confusion.columns]),
                [
                    (e.label(r), *[str(v) for v in row])
                    for r, row in zip(e.confusion.rows, e.confusion.counts, strict=True)
                ],
            )
        )
    blocks += [
        Heading(2, "Accord par bloc et par longueur de dossier"),
        Paragraph(
            "Un écart marqué entre blocs, ou entre dossiers courts et longs, signale un biais à examiner avant "
            "d'utiliser l'outil sur ces dossiers."
        ),
        Image("par-bloc.png", "Accord exact et taux d'abstention par bloc"),
    ]
    for e in runs:
        prefix = f"{e.run_name} — " if reference else ""
        blocks.append(Heading(3, f"{prefix}par bloc"))
        blocks.append(_table(("bloc", *GROUP_COLUMNS), [(name, *_group_cells(m)) for name, m in e.by_block.items()]))
        blocks.append(Heading(3, f"{prefix}par longueur de dossier"))
        blocks.append(
            _table(("longueur", *GROUP_COLUMNS), [(name, *_group_cells(m)) for name, m in e.by_length.items()])
        )
    blocks += [
        Heading(2, "Coût et durée par dossier"),
        Image("cout-accord.png", "Coût (ou jetons) par dossier et accord exact"),
    ]
    for e in runs:
        if reference:
            blocks.append(Heading(3, e.run_name))
        blocks.append(
            _table(
                (
                    "dossier",
                    "pages",
                    "critères",
                    "accord exact",
                    "couverture",
                    "appels",
                    "jetons (entrée/sortie)",
                    "coût",
                    "durée",
                ),
                [
                    (
                        d.dossier,
                        str(d.pages),
                        str(d.criteria),
                        fmt_percent(d.exact_agreement),
                        fmt_percent(d.coverage),
                        str(d.model_calls),
                        f"{d.input_tokens} / {d.output_tokens}",
                        f"{fmt_number(d.cost_eur, 4)} €",
                        f"{fmt_number(d.seconds, 1)} s",
                    )
                    for d in e.dossiers
                ],
            )
        )
    blocks.append(Heading(2, "Par critère"))
    for e in runs:
        if reference:
            blocks.append(Heading(3, e.run_name))
        blocks.append(
            _table(
                ("critère", "dossiers", "accord exact", "jury", "outil"),
                [
                    (
                        c.criterion_id,
                        str(c.dossiers),
                        fmt_percent(c.exact_agreement),
                        ", ".join(f"{e.label(k)} ×{n}" if n > 1 else e.label(k) for k, n in c.gold.items()),
                        ", ".join(f"{e.label(k)} ×{n}" if n > 1 else e.label(k) for k, n in c.machine.items()),
                    )
                    for c in e.criteria
                ],
            )
        )
    blocks += [Heading(2, "Comment lire ce rapport"), _reading_guide(evaluation.k)]
    notes = [f"{e.run_name} : {w}" if reference else w for e in runs for w in e.warnings]
    if notes:
        blocks += [Heading(2, "Avertissements"), Bullets(tuple(notes))]
    return blocks


# --- Rendering -------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if table.numeric(i) else "---" for i in range(len(table.headers))) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(f"> {block.text}" if block.note else block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            out.append(markdown_table(block))
        else:
            out.append(f"![{block.alt}]({block.name})")
    return "\n\n".join(out) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1d2733}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.6rem 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
td,th{border:1px solid #c8d0da;padding:.3rem .5rem;vertical-align:top}
th{background:#eef2f6;text-align:left}td.num{text-align:right;white-space:nowrap}
img{max-width:100%;height:auto;display:block;margin:1rem 0}
"""


def render_html(blocks: Sequence[Block], images: dict[str, bytes]) -> str:
    e = html.escape
    title = next((b.text for b in blocks if isinstance(b, Heading)), "Évaluation")
    out = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p class='note'>{e(block.text)}</p>" if block.note else f"<p>{e(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in block.headers)
            body = "".join(
                "<tr>"
                + "".join(
                    f"<td class='num'>{e(c)}</td>" if block.numeric(i) else f"<td>{e(c)}</td>"
                    for i, c in enumerate(row)
                )
                + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif block.name in images:
            data = base64.b64encode(images[block.name]).decode("ascii")
            out.append(f"<img alt='{e(block.alt)}' src='data:image/png;base64,{data}'>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- Plots -----------------------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_confusion(e: Evaluation) -> bytes:
    counts = np.array(e.confusion.counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    rows, cols = len(e.confusion.rows), len(e.confusion.columns)
    fig = Figure(figsize=(2.2 + 1.45 * cols, 1.6 + 0.75 * rows))
    ax = fig.subplots()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(cols), [_wrap(e.label(c)) for c in e.confusion.columns], fontsize=9)
    ax.set_yticks(range(rows), [e.label(r) for r in e.confusion.rows], fontsize=9)
    ax.set_xlabel("Proposition de l'outil")
    ax.set_ylabel("Décision du jury")
    ax.set_title(
        f"Matrice de confusion — {e.run_name}\n(nombre de critères ; couleur : part de la ligne ; cadre vert : accord)",
        fontsize=10,
    )
    for i, row_code in enumerate(e.confusion.rows):
        for j, column_code in enumerate(e.confusion.columns):
            value = int(counts[i, j])
            colour = "white" if shares[i, j] > 0.6 else "#1d2733"
            ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=11, fontweight="bold")
            if row_code == column_code:  # agreement: outlined
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#0a7a3b", linewidth=2.5))
    return _png(fig)


def _wrap(label: str, width: int = 14) -> str:
    words, lines, current = label.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return "\n".join(lines)


def plot_by_block(runs: Sequence[Evaluation]) -> bytes:
    blocks = list(dict.fromkeys(b for e in runs for b in e.by_block))
    fig = Figure(figsize=(10, 1.6 + 0.45 * len(blocks) * len(runs)))
    axes = fig.subplots(1, 2, sharey=True)
    height = 0.8 / len(runs)
    positions = np.arange(len(blocks))
    for panel, (metric, title) in zip(
        axes, (("exact_agreement", "Accord exact"), ("abstention_rate", "Taux d'abstention")), strict=True
    ):
        for i, e in enumerate(runs):
            values = [getattr(e.by_block[b], metric) if b in e.by_block else None for b in blocks]
            y = positions + (i - (len(runs) - 1) / 2) * height
            bars = panel.barh(
                y, [v * 100 if v is not None else 0 for v in values], height, color=COLOURS[i % 4], label=e.run_name
            )
            for bar, v in zip(bars, values, strict=True):
                text = NA if v is None else f"{v * 100:.0f} %"
                panel.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
        panel.set_xlim(0, 115)
        panel.set_xlabel("%")
        panel.set_title(title, fontsize=10)
        panel.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, blocks, fontsize=9)
    axes[0].invert_yaxis()
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle("Par bloc (référentiel/bloc)", fontsize=11)
    return _png(fig)


LABEL_OFFSETS = ((6, 5), (6, -13), (-6, 5), (-6, -13), (6, 17), (6, -25), (-6, 17), (-6, -25))
"""Where a point's label may go (points), tried in order until it overlaps no label already placed."""


def _place_labels(fig: Figure, ax: Axes, labels: Sequence[tuple[float, float, str]]) -> None:
    FigureCanvasAgg(fig)  # the Agg canvas measures the labels
    placed: list[Bbox] = []
    for x, y, text in labels:
        for dx, dy in LABEL_OFFSETS:
            note = ax.annotate(
                text,
                (x, y),
                textcoords="offset points",
                xytext=(dx, dy),
                fontsize=8,
                ha="left" if dx > 0 else "right",
            )
            box = note.get_window_extent()
            if not any(box.overlaps(other) for other in placed) or (dx, dy) == LABEL_OFFSETS[-1]:
                placed.append(box)
                break
            note.remove()


def plot_cost_agreement(runs: Sequence[Evaluation]) -> bytes:
    use_cost = any(d.cost_eur > 0 for e in runs for d in e.dossiers)
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    labels: list[tuple[float, float, str]] = []
    for i, e in enumerate(runs):
        xs = [d.cost_eur if use_cost else d.input_tokens + d.output_tokens for d in e.dossiers]
        ys = [(d.exact_agreement or 0) * 100 for d in e.dossiers]
        ax.scatter(xs, ys, s=60, color=COLOURS[i % 4], label=e.run_name, alpha=0.85, edgecolors="white")
        points: dict[tuple[float, float], list[str]] = {}
        for x, y, d in zip(xs, ys, e.dossiers, strict=True):
            points.setdefault((x, round(y, 1)), []).append(d.dossier)
        labels += [(x, y, ", ".join(names)) for (x, y), names in sorted(points.items())]
    ax.set_xlabel("Coût par dossier (€)" if use_cost else "Jetons par dossier (entrée + sortie ; aucun coût déclaré)")
    ax.set_ylabel("Accord exact avec le jury (%)")
    ax.set_ylim(-5, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Coût et accord, un point par dossier", fontsize=10)
    _place_labels(fig, ax, labels)
    return _png(fig)


def figures(runs: Sequence[Evaluation]) -> dict[str, bytes]:
    images = {f"confusion-{i + 1}.png": plot_confusion(e) for i, e in enumerate(runs)}
    images["par-bloc.png"] = plot_by_block(runs)
    images["cout-accord.png"] = plot_cost_agreement(runs)
    return images


def write_reports(
    folder: Path, evaluation: Evaluation, *, reference: Evaluation | None = None, comparison: Comparison | None = None
) -> list[Path]:
    """``evaluation.md`` with its PNG files, ``evaluation.html`` (self-contained) and ``metrics.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = [reference, evaluation] if reference else [evaluation]
    blocks = build(evaluation, reference=reference, comparison=comparison)
    images = figures(runs)
    written = []
    for name, data in images.items():
        (folder / name).write_bytes(data)
        written.append(folder / name)
    payload = {
        "evaluation": evaluation.to_json(),
        "reference": reference.to_json() if reference else None,
        "comparison": comparison.model_dump(mode="json") if comparison else None,
    }
    for name, text in (
        ("evaluation.md", render_markdown(blocks)),
        ("evaluation.html", render_html(blocks, images)),
        ("metrics.json", json.dumps(payload, ensure_ascii=False, indent=2) + "\n"),
    ):
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def console_tables(
    evaluation: Evaluation, *, reference: Evaluation | None = None, comparison: Comparison | None = None
) -> str:
    """The main tables as Markdown, for a terminal or a script's output."""
    runs = [reference, evaluation] if reference else [evaluation]
    parts = []
    if reference:
        ref_rows, main_rows = overall_rows(reference), overall_rows(evaluation)
        parts.append(
            markdown_table(
                _table(
                    ("indicateur", f"A : {reference.run_name}", f"B : {evaluation.run_name}", "calculé sur (B)"),
                    [(a[0], a[1], b[1], b[2]) for a, b in zip(ref_rows, main_rows, strict=True)],
                    numeric_to=3,
                )
            )
        )
    else:
        parts.append(
            markdown_table(_table(("indicateur", "valeur", "calculé sur"), overall_rows(evaluation), numeric_to=2))
        )
    for e in runs:
        parts.append(
            f"Par bloc — {e.run_name}\n\n"
            + markdown_table(_table(("bloc", *GROUP_COLUMNS), [(n, *_group_cells(m)) for n, m in e.by_block.items()]))
        )
    if comparison:
        parts.append("Comparaison (B − A)\n\n" + markdown_table(comparison_table(comparison)))
        parts.append(_comparison_note(comparison))
    return "\n\n".join(parts) + "\n"
