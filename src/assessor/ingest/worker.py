"""Reading a file in a worker process held to a memory limit and a deadline.

A hostile file (a decompression bomb, a parser trap) can make a reader take gigabytes or run
for minutes. Read in its own process, with an address-space limit (``ingest.max_memory_mb``)
and a deadline (``ingest.max_seconds``), it costs that process only: the server, and every other
jury's ingestion, go on. Workers are started once (``spawn``: no thread or lock of the server is
inherited) and reused; one that overruns is killed and replaced.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from assessor.ingest import LoadedFile, ReadProgress, load_file
from assessor.ingest.errors import IngestError, IngestErrorCode
from assessor.settings import IngestSettings

_CONTEXT = multiprocessing.get_context("spawn")
_RETRY_HINT = "Ré-exportez le fichier depuis le logiciel d'origine (PDF ou DOCX) ou retirez les annexes inutiles"


class _Worker:
    """One reading process and the pipe to it."""

    def __init__(self, max_memory_mb: int) -> None:
        self.max_memory_mb = max_memory_mb
        self.connection, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child, max_memory_mb), daemon=True, name="assessor-ingest")
        self.process.start()
        child.close()

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.connection.close()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def read_file(path: Path, settings: IngestSettings, *, progress: ReadProgress | None = None) -> LoadedFile:
    """``load_file`` in a worker process when ``settings.isolate``, in this one otherwise.

    Isolated, it raises ``IngestError`` also when the file overruns the time or memory limit, or
    when a reader fails in a way no file should make it fail (a bug meets a malformed file).
    """
    if not settings.isolate:
        return load_file(path, settings, progress=progress)
    with _idle_lock:
        slots = _slots.setdefault(settings.workers, threading.BoundedSemaphore(settings.workers))
    with slots:
        worker = _take(settings.max_memory_mb)
        try:
            result = _ask(worker, path, settings, progress)
        except BaseException:
            worker.stop()  # killed mid-file, or in an unknown state: never reused
            raise
        with _idle_lock:
            _idle.append(worker)
        return result


def _take(max_memory_mb: int) -> _Worker:
    with _idle_lock:
        for index, worker in enumerate(_idle):
            if worker.max_memory_mb == max_memory_mb and worker.process.is_alive():
                return _idle.pop(index)
    return _Worker(max_memory_mb)


def _ask(worker: _Worker, path: Path, settings: IngestSettings, progress: ReadProgress | None) -> LoadedFile:
    deadline = time.monotonic() + settings.max_seconds
    worker.connection.send((str(path), settings))
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not worker.connection.poll(left):
            raise IngestError(
                IngestErrorCode.TOO_SLOW,
                path.name,
                f"la lecture du fichier a dépassé la limite de {settings.max_seconds:.0f} s et a été arrêtée.",
                f"{_RETRY_HINT} ; l'administrateur peut relever la limite (ASSESSOR_INGEST__MAX_SECONDS).",
            )
        try:
            message: tuple[Any, ...] = worker.connection.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            raise _died(path.name, worker.process.exitcode, settings.max_memory_mb) from None
        kind = message[0]
        if kind == "progress" and progress is not None:
            progress(message[1], message[2], message[3])
        elif kind == "done":
            loaded: LoadedFile = message[1]
            return loaded
        elif kind == "error":
            raise IngestError(IngestErrorCode(message[1]), message[2], message[3], message[4])
        elif kind == "memory":
            raise _died(path.name, None, settings.max_memory_mb)
        elif kind == "failed":
            raise IngestError(
                IngestErrorCode.READ_FAILED,
                path.name,
                f"la lecture du fichier a échoué ({message[1]}).",
                f"{_RETRY_HINT}, puis recommencez.",
            )


def _died(name: str, exitcode: int | None, max_memory_mb: int) -> IngestError:
    """A worker that ran out of memory: a ``MemoryError``, or killed by its allocator (abort, segfault)."""
    how = "" if exitcode is None else f" (arrêt du lecteur, code {exitcode})"
    return IngestError(
        IngestErrorCode.TOO_MUCH_MEMORY,
        name,
        f"la lecture du fichier a dépassé la limite de mémoire de {max_memory_mb} Mo{how} et a été arrêtée.",
        f"{_RETRY_HINT} ; l'administrateur peut relever la limite (ASSESSOR_INGEST__MAX_MEMORY_MB).",
    )


def _serve(connection: Connection, max_memory_mb: int) -> None:
    """The worker's loop: read the files it is sent, one at a time, until the pipe closes."""
    limit = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            path, settings = connection.recv()
        except (EOFError, OSError):
            return

        def progress(stage: str, done: int, total: int) -> None:
            connection.send(("progress", stage, done, total))

        try:
            loaded = load_file(Path(path), settings, progress=progress)
        except IngestError as error:
            connection.send(("error", str(error.code), error.file, error.message, error.hint))
        except MemoryError:
            connection.send(("memory",))
            return  # the heap may be in pieces: the parent starts a fresh worker
        except Exception as error:
            # A C parser out of memory says so in its own words (lxml: « unknown error »).
            if _peak_bytes() > 0.9 * limit:
                connection.send(("memory",))
                return
            connection.send(("failed", f"{type(error).__name__}: {str(error)[:200]}"))  # a reader's bug
        else:
            connection.send(("done", loaded))


def _peak_bytes() -> int:
    """The largest address space this process has had (VmPeak), 0 where /proc does not say."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
