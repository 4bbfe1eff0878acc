"""Evaluation harness: labelled dossiers (``datasets``), runs of assessments (``runs``),
agreement with the jury (``metrics``), paired comparison of two runs (``compare``) and the
report for a certification manager (``report``). See ``evals/README.md`` for the formats and
the definition of every metric.
"""

from __future__ import annotations

from assessor.evaluation.datasets import Dataset, DatasetError, DossierLabels, load_dataset
from assessor.evaluation.runs import Run, RunError, load_run

__all__ = ["Dataset", "DatasetError", "DossierLabels", "Run", "RunError", "load_dataset", "load_run"]
