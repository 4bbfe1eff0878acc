"""Versioned contracts: what is written says its version; older is migrated, newer is refused.

Reports and cached results (``assessor.results``), the review database (Alembic revisions) and
batch run folders (their ``format``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assessor.cli import app
from assessor.pipeline import ResultCache
from assessor.results import (
    SCHEMA_VERSION,
    ContractError,
    NewerContract,
    Report,
    dump_criterion_result,
    read_criterion_result,
    read_report,
)
from assessor.review.domain import ReviewError
from assessor.review.store import ReviewStore
from reviewdata import shared_report


@pytest.fixture(scope="module")
def report() -> Report:
    return shared_report("model")


def as_version_1(report: Report) -> dict[str, Any]:
    """The report as Assessor wrote it before versioning: no schema_version, no page_end."""
    data = json.loads(report.model_dump_json())
    del data["schema_version"]
    for criterion in data["criteria"]:
        for citation in criterion["citations"]:
            del citation["page_end"]
    return data


def test_a_report_says_its_version_and_reads_back_unchanged(report: Report) -> None:
    data = json.loads(report.model_dump_json())
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert read_report(report.model_dump_json()) == report
    cited = [c for r in report.criteria for c in r.citations if c.page is not None]
    assert cited and all(c.page_end is not None and c.page_end >= c.page for c in cited)


def test_a_version_1_report_is_migrated(report: Report) -> None:
    old = as_version_1(report)
    migrated = read_report(json.dumps(old))
    assert migrated.schema_version == SCHEMA_VERSION
    for before, after in zip(old["criteria"], migrated.criteria, strict=True):
        assert [c.page_end for c in after.citations] == [c["page"] for c in before["citations"]]
        assert [c.quote for c in after.citations] == [c["quote"] for c in before["citations"]]
    unmigrated = Report.model_validate(dict(old, schema_version=2))  # read as if it were version 2
    assert all(c.page_end is None for r in unmigrated.criteria for c in r.citations)  # the range would be lost


def test_a_newer_report_is_refused_with_a_message_that_says_what_to_do(report: Report, tmp_path: Path) -> None:
    newer = json.loads(report.model_dump_json()) | {"schema_version": SCHEMA_VERSION + 1, "a_new_field": True}
    with pytest.raises(NewerContract, match=r"plus récent.*mettez Assessor à jour"):
        read_report(json.dumps(newer))
    path = tmp_path / "rapport-futur.json"
    path.write_text(json.dumps(newer), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "review", "import", str(path), "--as", "jmartin"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "mettez Assessor à jour" in " ".join(result.stderr.split())


def test_what_is_not_a_report_is_a_contract_error_not_a_crash() -> None:
    for text in ("pas du json", "[1, 2]", '{"schema_version": "deux"}', '{"schema_version": 2, "bonjour": 1}'):
        with pytest.raises(ContractError):
            read_report(text)
    with pytest.raises(ContractError, match=r"rapport invalide : dossier : champ obligatoire absent \(\d+ problème"):
        read_report('{"schema_version": 2, "bonjour": 1}')


def test_the_result_cache_keeps_the_version_and_reads_older_results(report: Report, tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    result = report.criteria[0]
    cache.put("clé", result)
    kept = json.loads((tmp_path / "clé.json").read_text(encoding="utf-8"))
    assert kept["schema_version"] == SCHEMA_VERSION and kept["result"]["criterion_id"] == result.criterion_id
    assert cache.get("clé") == result.model_copy(update={"cached": True})
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind

    bare = json.loads(result.model_dump_json())  # a version 1 cache entry: the bare result
    for citation in bare["citations"]:
        del citation["page_end"]
    (tmp_path / "ancien.json").write_text(json.dumps(bare), encoding="utf-8")
    older = cache.get("ancien")
    assert older is not None and [c.page_end for c in older.citations] == [c.page for c in result.citations]

    (tmp_path / "futur.json").write_text(
        json.dumps({"schema_version": SCHEMA_VERSION + 1, "result": {"autre": 1}}), encoding="utf-8"
    )
    assert cache.get("futur") is None  # assessed again rather than misread
    assert read_criterion_result(dump_criterion_result(result)) == result


def test_a_review_database_migrated_by_a_newer_assessor_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'assessor.db'}"
    ReviewStore(url).dispose()  # created and migrated to this code's head
    connection = sqlite3.connect(tmp_path / "assessor.db")
    connection.execute("UPDATE alembic_version SET version_num = 'f00d0000beef'")
    connection.commit()
    connection.close()
    with pytest.raises(ReviewError, match=r"version plus récente d'Assessor.*f00d0000beef"):
        ReviewStore(url)


def test_every_persisted_model_is_defined_in_the_contracts_module() -> None:
    """Reports, results, citations, people's decisions and the audit anchor an export carries: one
    module defines them all, beside the versions and the migrations (the review module re-exports)."""
    from assessor import results
    from assessor.review import domain

    persisted = ["Report", "CriterionResult", "Citation", "CriterionDecision", "BlockDecision", "AuditAnchor"]
    assert {getattr(results, name).__module__ for name in persisted} == {"assessor.results"}
    assert all(getattr(domain, name) is getattr(results, name) for name in persisted[3:])
    assert domain.CSV_COLUMNS is results.CSV_COLUMNS
