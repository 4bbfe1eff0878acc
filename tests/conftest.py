"""Test tiers. ``scripts/test --fast`` runs the tests not marked ``slow``; CI runs them all.

Slow are the tests that start processes or servers (the app in chromium, PostgreSQL, Chroma,
Ray, the OpenAI Batch stub round trips), load a model (SmolLM2, MiniLM), run OCR, or sweep the
labelled dossiers. They are listed here, by module or by test, from ``pytest --durations``:
adding a test to a fast module keeps it in the fast tier unless it is named below.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# The tests never read nor write the user's caches (the list of référentiels is cached there):
# one fresh cache folder for the session, shared by the xdist workers' subprocesses alike.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="assessor-test-cache-")

SLOW_MODULES = {
    "test_app_browser",
    "test_replicas",
    "test_proxy",
    "test_batch_ray",
    "test_batch_openai",
    "test_smollm2_assessment",
    "test_llm_local",
    "test_embeddings",
    "test_chroma_server",
    "test_review_postgres",
    # integration: worker processes, subprocesses, whole batch runs, documents rendered and re-read
    "test_hostile",
    "test_batch",
    "test_private_files",
    "test_cli_output",
    "test_cli_startup",
    "test_ingest_limits",
    "test_ingest_atomic",
    "test_eval_report",
    "test_realdata_labels",
    "test_bad_inputs",
    "test_cli_review",
    "test_first_run",
    "test_webapp",  # the app's state and Gradio
}

SLOW_TESTS = {
    "test_errors::test_every_failure_class_of_the_package_derives_from_the_one_root",  # imports every module
    "test_errors::test_each_error_has_a_stable_code_of_its_own",
    "test_importer::test_a_large_export_is_streamed_one_fiche_at_a_time",
    "test_secrets::test_a_key_echoed_by_the_model_is_written_nowhere",
    "test_batch::test_the_bound_on_model_calls_holds_across_dossiers",
    "test_evidence_only::test_the_default_thresholds_are_those_fitted_on_every_labelled_dossier",
    "test_sample_dossiers::test_generated_files_are_up_to_date",
    "test_bad_inputs::test_cli_refuses_the_batch_and_leaves_the_store_as_it_was",
    "test_ingest::test_scanned_page_is_read_by_ocr_and_marked",
    "test_importer::test_with_ocr_a_scanned_pdf_is_read_before_being_judged",
    "test_first_run::test_first_run_in_the_browser_through_the_printed_link",
    "test_private_files::test_the_owner_gets_her_export_and_page_and_no_one_else_does",
    "test_cli_review::test_the_whole_review_from_the_command_line",
    # a command run in its own interpreter
    "test_french::test_the_installed_command_speaks_french",
    "test_cli::test_installed_console_script_help",
}


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("markexpr", "") == "not slow":
        os.environ["ASSESSOR_TEST_TIER"] = "fast"  # read by tiers.py when the test modules are imported


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast tier (``-m "not slow"``), the slow modules are not even imported: importing them
    (Ray, Playwright, gradio, the models) took a third of the tier's time, for tests it then deselects."""
    if config.getoption("markexpr", "") == "not slow" and collection_path.stem in SLOW_MODULES:
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        name = item.nodeid.split("::", 1)[-1].split("[", 1)[0]
        if module in SLOW_MODULES or f"{module}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
