"""Helpers for the projects tests: tiny pure-Python wheels made on the spot, and pip kept offline.

``build_wheel(dest_dir)`` writes ``tinypkg-1.2.3-py3-none-any.whl`` (``import tinypkg``;
``tinypkg.__version__ == "1.2.3"``), valid for pip. ``offline_pip_env(folder)`` is the environment
that makes pip install from that folder only (``PIP_NO_INDEX=1``, ``PIP_FIND_LINKS``), so no test
touches the network. The ``wheelhouse`` fixture is a session-wide folder holding tinypkg 1.2.3;
import it into a test module (``from tests.projects_helpers import wheelhouse``) to use it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import pytest

__all__ = ["build_wheel", "offline_pip_env", "wheelhouse"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same arguments give the same bytes


def build_wheel(dest_dir: Path, name: str = "tinypkg", version: str = "1.2.3") -> Path:
    """Write a pure-Python wheel of package ``name`` at ``version`` into ``dest_dir``; its path.

    The package is one module, ``<name>/__init__.py``, with ``__version__ = "<version>"``.
    """
    module = re.sub(r"[-.]+", "_", name)
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: A tiny package made by gitml's tests\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: gitml-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}\n")
    record.append(f"{info}/RECORD,,\n")
    files[f"{info}/RECORD"] = "".join(record).encode()

    dest_dir.mkdir(parents=True, exist_ok=True)
    wheel = dest_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return wheel


def offline_pip_env(find_links: Path) -> dict[str, str]:
    """Environment variables that make pip install from ``find_links`` only, never the network."""
    return {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(find_links),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``tinypkg-1.2.3-py3-none-any.whl`` (add more with :func:`build_wheel`)."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(folder)
    return folder
