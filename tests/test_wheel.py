"""``assessor demo`` from an installed wheel, away from any checkout (issue 16, point 8).

The wheel is built from this tree and installed, without its dependencies, into a fresh virtual
environment; the dependencies come from this one's site-packages (``PYTHONPATH``, which does not
carry this environment's editable install of Assessor). The demo then runs in an empty folder:
the référentiels, prompts and sample dossiers it reads must all be inside the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_the_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheel"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"no wheel could be built here (the build backend did not install): {built.stderr[-300:]}")
    [wheel] = (tmp_path / "wheel").glob("assessor-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    away = tmp_path / "ailleurs"
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"], "HF_HUB_OFFLINE": "1"}
    env.pop("ASSESSOR_DATA_DIR", None)
    probe = "import assessor, sys; print(assessor.__file__)"
    where = subprocess.run([python, "-c", probe], cwd=away, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(tmp_path / "venv")), where.stdout  # the wheel's copy, not this tree
    demo = subprocess.run(
        [python, "-c", "from assessor.cli import main; main()", "--data-dir", "donnees", "demo", "--out", "sortie"],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    report = json.loads((away / "sortie" / "rapport.json").read_text(encoding="utf-8"))
    assert report["referential"]["id"] == "dev-commercial-omnicanal" and report["criteria"]
