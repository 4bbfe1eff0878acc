"""Real servers in child processes for the tests: a free loopback port, start, wait, stop.

``serving`` starts a command whose output goes to a log file, waits until ``url`` answers
200 (reporting the log's tail if the process exits or the wait times out), and terminates it
(then kills it) on exit. Used for ``chroma run`` and for the review app (``python app.py``).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@contextmanager
def serving(
    command: Sequence[str],
    *,
    url: str,
    log: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 90.0,
    poll: float = 0.2,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; yields once ``url`` answers 200 (asked every ``poll`` s)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} stopped with code {process.returncode}:\n{_tail(log)}")
            try:
                if httpx.get(url, timeout=2.0, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not answer on {url} within {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(poll)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
