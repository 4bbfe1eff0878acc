"""The evaluation report (Markdown + PNG, self-contained HTML, metrics.json) and ``assessor eval run``."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import typer
from typer.testing import CliRunner

from assessor.cli.evaluate import eval_app
from assessor.dossiers import DossierStore
from assessor.evaluation.compare import compare
from assessor.evaluation.datasets import Dataset, load_dataset
from assessor.evaluation.metrics import evaluate
from assessor.evaluation.report import (
    build,
    fmt_difference,
    fmt_metric,
    fmt_number,
    fmt_percent,
    render_html,
    write_reports,
)
from assessor.library import Library
from assessor.pipeline import assess_dossier
from assessor.settings import Settings
from test_eval_metrics import labels, report, result, run_of, two_dossier_case

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "evals" / "datasets" / "sample_dossiers.yaml"
PNG = b"\x89PNG\r\n\x1a\n"

app = typer.Typer()
app.add_typer(eval_app, name="eval")
runner = CliRunner()


def flat(text: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(text.split())


def test_numbers_are_written_the_french_way_and_undefined_ones_as_na() -> None:
    assert fmt_percent(0.583) == "58 %" and fmt_percent(None) == "n/a"
    assert fmt_number(0.4) == "0,40" and fmt_number(-0.125) == "−0,12" and fmt_number(None) == "n/a"
    assert fmt_metric("kappa", None) == "n/a" and fmt_metric("mean_cost_eur", 0.0123) == "0,0123 €"
    assert fmt_difference("exact_agreement", 0.12) == "+12 pts"
    assert fmt_difference("exact_agreement", -0.5) == "−50 pts"
    assert fmt_difference("mean_seconds", -0.01) == "±0,0 s"
    assert fmt_difference("kappa", 0.3) == "+0,30" and fmt_difference("kappa", None) == "n/a"


def _valid_png(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG)
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    return pixels.shape[0], pixels.shape[1]


def test_reports_are_written_with_their_plots_and_metrics(tmp_path: Path) -> None:
    dataset, reports = two_dossier_case()
    a = evaluate(run_of("référence", reports), dataset)
    better = [
        report("court", [result("ref/B1/1", "acquis"), result("ref/B1/2", "non_acquis")], cost=0.5, calls=3),
        report("long", [result("ref/B2/1", "partiellement_acquis", block="B2")], pages=80, cost=0.1, calls=1),
    ]
    b = evaluate(run_of("nouveau", better), dataset)
    comparison = compare(a, b, resamples=200)
    written = write_reports(tmp_path, b, reference=a, comparison=comparison)
    names = {p.name for p in written}
    assert {"evaluation.md", "evaluation.html", "metrics.json", "par-bloc.png", "cout-accord.png"} <= names
    assert {"confusion-1.png", "confusion-2.png"} <= names
    for png in tmp_path.glob("*.png"):
        height, width = _valid_png(png.read_bytes())
        assert height > 200 and width > 400
    markdown = (tmp_path / "evaluation.md").read_text(encoding="utf-8")
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown):
        assert (tmp_path / image).exists()
    assert "| Accord exact (toutes issues) |" in markdown and "IC 95 %" in markdown
    assert "nan" not in markdown.lower().replace("nantes", "")
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["evaluation"]["overall"] == b.overall.model_dump()
    assert metrics["reference"]["run"]["name"] == "référence"
    assert next(r["metric"] for r in metrics["comparison"]["rows"]) == "exact_agreement"
    # Self-contained HTML: every image is inline.
    page = (tmp_path / "evaluation.html").read_text(encoding="utf-8")
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    _valid_png(base64.b64decode(sources[0].split(",", 1)[1]))


def test_html_escapes_every_text_from_runs_and_labels(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    dataset = Dataset(name="jeu <b>", entries=[labels(hostile, {"ref/B1/<i>1": "acquis"})])
    e = evaluate(run_of("run & <x>", [report(hostile, [result("ref/B1/<i>1", "acquis")])]), dataset)
    page = render_html(build(e), images={})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<i>1" not in page and "<x>" not in page and "<b>" not in page
    assert "run &amp; &lt;x&gt;" in page and "jeu &lt;b&gt;" in page


def test_undefined_kappa_reads_na_in_the_report() -> None:
    dataset = Dataset(name="jeu", entries=[labels("d", {"ref/B1/1": "acquis", "ref/B1/2": "acquis"})])
    e = evaluate(run_of("r", [report("d", [result("ref/B1/1", "acquis"), result("ref/B1/2", "acquis")])]), dataset)
    assert e.overall.kappa is None and e.overall.accuracy == 1.0
    page = render_html(build(e), images={})
    assert re.search(r"κ de Cohen</td><td class='num'>n/a<", page)


def _results_line(dossier_key: str, rep_json: str, seconds: float) -> str:
    return json.dumps({"dossier_key": dossier_key, "candidate_id": None, "files": [], "seconds": seconds}).replace(
        "}", f', "report": {rep_json}}}', 1
    )


def test_eval_run_on_a_run_folder_of_the_real_pipeline(tmp_path: Path) -> None:
    """The evidence-only baseline on one sample dossier, written as a batch run, evaluated by the CLI."""
    dataset = load_dataset(MANIFEST)
    entry = next(e for e in dataset.entries if e.dossier == "grands-comptes-b1")
    assert entry.referential and entry.block
    store = DossierStore(Settings(data_dir=tmp_path / "data"))
    store.ingest(entry.dossier, dataset.dossier_files[entry.dossier])
    rep = assess_dossier(
        store, entry.dossier, Library.from_settings(Settings()).get(entry.referential), blocks=[entry.block]
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"name": "ligne de base", "model": "evidence-only"}), encoding="utf-8")
    (run / "results.jsonl").write_text(
        _results_line("grands-comptes-b1", rep.model_dump_json(), 0.7) + "\n", encoding="utf-8"
    )
    result_ = runner.invoke(app, ["eval", "run", str(run), "--labels", str(MANIFEST), "--k", "3"])
    assert result_.exit_code == 0, result_.output
    assert "| Accord exact (toutes issues) |" in result_.stdout
    assert "3 dossiers étiquetés absents du run" in flat(result_.stderr)
    folder = run / "evaluation"
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["evaluation"]
    assert metrics["run"]["name"] == "ligne de base" and metrics["k"] == 3
    overall = metrics["overall"]
    # The evidence-only assessor never gives a verdict: its agreement is only on the non-verdicts.
    assert overall["criteria"] == len(entry.criteria) and overall["paired"] == 0 and overall["kappa"] is None
    expected_not_assessable = sum(c.outcome == "non_evaluable_ecrit" for c in entry.criteria)
    assert overall["gold_not_assessable"] == expected_not_assessable and overall["not_assessable_agreement"] == 1.0
    assert overall["recall_at_k"] is not None and 0 < overall["recall_at_k"] <= 1
    assert metrics["dossiers"][0]["seconds"] == 0.7
    # A single report file works too, and --compare with itself gives zero differences.
    single = tmp_path / "rapport.json"
    single.write_text(rep.model_dump_json(), encoding="utf-8")
    out = tmp_path / "cmp"
    result_ = runner.invoke(
        app, ["eval", "run", str(single), "-l", str(MANIFEST), "--compare", str(run), "-o", str(out)]
    )
    assert result_.exit_code == 0, result_.output
    comparison = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["comparison"]
    assert {r["metric"]: r["difference"] for r in comparison["rows"]}["exact_agreement"] == 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"results.jsonl": "{pas du json\n"}, "JSON invalide"),
        ({"results.jsonl": '{"dossier_key": "x"}\n'}, "report"),
        ({"results.jsonl": '{"dossier_key": "x", "report": {"dossier": 1}}\n'}, "rapport invalide"),
        ({"notes.txt": "rien"}, "ni results.jsonl"),
    ],
)
def test_eval_run_refuses_bad_runs_with_a_message(tmp_path: Path, files: dict[str, str], message: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name, text in files.items():
        (run / name).write_text(text, encoding="utf-8")
    result_ = runner.invoke(app, ["eval", "run", str(run), "--labels", str(MANIFEST)])
    assert result_.exit_code == 1
    assert "Erreur" in flat(result_.stderr) and message in flat(result_.stderr)
    assert not (run / "evaluation").exists()


def test_eval_run_refuses_unmatched_runs_and_bad_labels(tmp_path: Path) -> None:
    single = tmp_path / "r.json"
    single.write_text(report("inconnu", [result("ref/B1/1", "acquis")]).model_dump_json(), encoding="utf-8")
    result_ = runner.invoke(app, ["eval", "run", str(single), "--labels", str(MANIFEST)])
    assert result_.exit_code == 1 and "aucun rapport" in flat(result_.stderr)
    result_ = runner.invoke(app, ["eval", "run", str(single), "--labels", str(tmp_path / "absent.yaml")])
    assert result_.exit_code == 1 and "introuvable" in flat(result_.stderr)
