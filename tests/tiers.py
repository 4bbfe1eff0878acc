"""What the fast tier trims: property tests draw a fifth of their examples there.

``scripts/test --fast`` (``-m "not slow"``) is the loop run after each edit; CI runs the whole
suite, where every property test draws all the examples its ``@settings`` asks for.
"""

from __future__ import annotations

import os

FAST = os.environ.get("ASSESSOR_TEST_TIER") == "fast"  # set by conftest.py for ``-m "not slow"``


def examples(full: int) -> int:
    """``full`` in the whole suite; a fifth of it (at least 30) in the fast tier."""
    return max(full // 5, 30) if FAST else full
