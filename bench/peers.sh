#!/usr/bin/env bash
# Create bench/.peers: a separate venv holding the peer tools (MLflow, DVC)
# used by bench_tracking.py. Idempotent: re-running only installs what is
# missing. Latest releases from PyPI, nothing pinned.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.peers"
PY="${PEERS_BASE_PYTHON:-python3}"

# pip, minus the noise about non-existent local find-links some machines
# have configured; keeps pip's exit status.
pip_install() {
    set +e
    "$VENV/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    local rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[peers] creating venv at $VENV with $($PY --version 2>&1)"
    "$PY" -m venv "$VENV"
    pip_install --upgrade pip
fi

need=()
"$VENV/bin/python" -c "import mlflow" 2>/dev/null || need+=(mlflow)
[ -x "$VENV/bin/dvc" ] && "$VENV/bin/dvc" --version >/dev/null 2>&1 || need+=(dvc)

if [ "${#need[@]}" -gt 0 ]; then
    echo "[peers] installing: ${need[*]}"
    pip_install "${need[@]}"
else
    echo "[peers] mlflow and dvc already installed"
fi

echo "[peers] mlflow $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
echo "[peers] dvc    $("$VENV/bin/dvc" --version)"
