"""The one atomic-write helper: a file is the old one or the new one, whole, and nothing is left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assessor.atomic import write_atomic


def test_a_file_is_replaced_whole_and_private_by_default(tmp_path: Path) -> None:
    target = tmp_path / "sous-dossier" / "rapport.json"
    write_atomic(target, "premier")
    write_atomic(target, "deuxième, plus long".encode())
    assert target.read_text(encoding="utf-8") == "deuxième, plus long"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_atomic(target, "lisible", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["rapport.json"]  # no temporary file left


def test_a_refused_or_failed_write_leaves_the_old_file_and_no_trace(tmp_path: Path) -> None:
    target = tmp_path / "brouillon.yaml"
    target.write_text("ancien", encoding="utf-8")

    def refuse(written: Path) -> None:
        assert written.read_text(encoding="utf-8") == "nouveau"  # the check reads the new text, not yet in place
        raise ValueError("brouillon invalide")

    with pytest.raises(ValueError, match="brouillon invalide"):
        write_atomic(target, "nouveau", check=refuse)
    with pytest.raises(TypeError):
        write_atomic(target, 12)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "ancien"
    assert [p.name for p in tmp_path.iterdir()] == ["brouillon.yaml"]
