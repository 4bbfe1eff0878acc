"""Writing a file so that it is always whole: the old one, or the new one, never half of either.

The data goes to a temporary file of its own in the same folder (unique, so two writers of the
same file never share it), is flushed to disk, optionally checked, then takes the file's name in
one ``os.replace``. A failure at any step leaves the previous file as it was and no temporary
file behind. New files are private to their owner (0600) unless ``mode`` says otherwise: they
hold candidates' data.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(
    path: Path,
    data: str | bytes,
    *,
    mode: int | None = None,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all; ``check`` may refuse the
    written temporary file by raising, before it replaces anything."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            tmp.chmod(mode)
        if check is not None:
            check(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
