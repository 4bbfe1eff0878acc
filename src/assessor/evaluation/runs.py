"""Runs of assessments to evaluate, and how their reports are matched with labelled dossiers.

A run is read from:

- a run folder written by ``assessor batch``: ``run.json`` (settings, model, prompt version,
  start and end) and ``results.jsonl``, one line per assessed dossier:
  ``{"dossier_key", "candidate_id", "files", "report", "seconds"}``;
- a ``results.jsonl`` file on its own;
- a single report JSON file (``assessor assess -o rapport.json``);
- a folder of report JSON files.

A report is matched with the labelled dossier whose ``candidate_id`` equals the line's
``candidate_id`` (when both are given), otherwise whose key (``dossier``) equals the line's
``dossier_key``, otherwise whose key equals the report's dossier id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assessor.errors import AssessorError
from assessor.evaluation.datasets import Dataset, DossierLabels
from assessor.results import ContractError, Report, read_report


class RunError(AssessorError):
    """A run that cannot be read or matched; the message (French) says why."""

    code = "execution-illisible"


@dataclass
class RunRecord:
    """One assessed dossier of a run."""

    dossier_key: str
    report: Report
    candidate_id: str | None = None
    files: list[str] = field(default_factory=list)
    seconds: float | None = None

    @property
    def latency_s(self) -> float:
        """Wall time of the dossier: the runner's measure, else the report's own."""
        return self.seconds if self.seconds is not None else self.report.timings.get("total_s", 0.0)


@dataclass
class Run:
    name: str
    path: Path
    records: list[RunRecord]
    info: dict[str, Any] = field(default_factory=dict)
    """``run.json`` as written by the batch runner (empty for loose reports)."""

    @property
    def model(self) -> str:
        models = sorted({r.report.model for r in self.records})
        return str(self.info.get("model") or ", ".join(models))

    @property
    def prompt_version(self) -> str | None:
        versions = sorted({r.report.prompt_version for r in self.records if r.report.prompt_version})
        value = self.info.get("prompt_version") or ", ".join(versions)
        return str(value) if value else None

    @property
    def evidence_only(self) -> bool:
        return all(r.report.evidence_only for r in self.records)


def _report(data: Any, where: str) -> Report:
    try:
        return read_report(data)
    except ContractError as exc:
        raise RunError(f"{where} : {exc}") from exc


def _load_json(path: Path, where: str | None = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunError(f"{where or path} : JSON invalide ({exc.msg}, ligne {exc.lineno}).") from exc
    except UnicodeDecodeError as exc:
        raise RunError(f"{where or path} : le fichier n'est pas en UTF-8.") from exc


def _results_jsonl(path: Path) -> list[RunRecord]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RunError(f"{path} : le fichier n'est pas en UTF-8.") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, ligne {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunError(f"{where} : JSON invalide ({exc.msg}).") from exc
        if not isinstance(data, dict) or "report" not in data:
            raise RunError(f"{where} : chaque ligne doit contenir « report » (le rapport du dossier).")
        report = _report(data["report"], where)
        seconds = data.get("seconds")
        records.append(
            RunRecord(
                dossier_key=str(data.get("dossier_key") or report.dossier.id),
                candidate_id=str(data["candidate_id"]) if data.get("candidate_id") else None,
                files=[str(f) for f in data.get("files") or []],
                report=report,
                seconds=float(seconds) if isinstance(seconds, int | float) else None,
            )
        )
    return records


def _loose(path: Path) -> RunRecord:
    report = _report(_load_json(path), str(path))
    return RunRecord(dossier_key=report.dossier.id, report=report)


def load_run(path: Path) -> Run:
    """A run from a run folder, a results.jsonl file, a report JSON file or a folder of them."""
    if not path.exists():
        raise RunError(f"{path} : introuvable.")
    info: dict[str, Any] = {}
    if path.is_dir():
        if (path / "run.json").exists():
            loaded = _load_json(path / "run.json")
            if not isinstance(loaded, dict):
                raise RunError(f"{path / 'run.json'} : un objet JSON est attendu.")
            info = loaded
        if (path / "results.jsonl").exists():
            records = _results_jsonl(path / "results.jsonl")
        else:
            reports = sorted(p for p in path.glob("*.json") if p.name != "run.json")
            if not reports:
                raise RunError(f"{path} : ni results.jsonl ni rapport JSON dans ce dossier.")
            records = [_loose(p) for p in reports]
    elif path.suffix.lower() == ".jsonl":
        records = _results_jsonl(path)
    elif path.suffix.lower() == ".json":
        records = [_loose(path)]
    else:
        raise RunError(f"{path} : donnez un dossier de run, un fichier results.jsonl ou un rapport JSON.")
    if not records:
        raise RunError(f"{path} : aucun dossier évalué.")
    name = str(info.get("name") or (path.name if path.is_dir() else path.stem))
    return Run(name=name, path=path, records=records, info=info)


@dataclass
class Matching:
    """Labelled dossiers and the report of each, and what could not be paired."""

    pairs: list[tuple[DossierLabels, RunRecord]]
    unlabelled: list[str]
    """Dossier keys of the run without labels."""
    unassessed: list[str]
    """Labelled dossiers without a report in the run."""


def match(run: Run, dataset: Dataset) -> Matching:
    """Pair each report with its labels (see the module docstring for the rules)."""
    by_candidate = {e.candidate_id: e for e in dataset.entries if e.candidate_id}
    by_key = {e.dossier: e for e in dataset.entries}
    pairs: list[tuple[DossierLabels, RunRecord]] = []
    used: dict[str, str] = {}
    unlabelled: list[str] = []
    for record in run.records:
        labels = (
            (by_candidate.get(record.candidate_id) if record.candidate_id else None)
            or by_key.get(record.dossier_key)
            or by_key.get(record.report.dossier.id)
        )
        if labels is None:
            unlabelled.append(record.dossier_key)
            continue
        if labels.dossier in used:
            raise RunError(
                f"{run.path} : deux rapports ({used[labels.dossier]} et {record.dossier_key}) correspondent "
                f"au même dossier étiqueté « {labels.dossier} »."
            )
        used[labels.dossier] = record.dossier_key
        pairs.append((labels, record))
    unassessed = [e.dossier for e in dataset.entries if e.dossier not in used]
    return Matching(pairs=pairs, unlabelled=unlabelled, unassessed=unassessed)
