"""The environment a project runs in: the current interpreter, or a cached venv built with pip.

``prepare_env(env, project_dir=..., manager=...)`` returns a :class:`PreparedEnv`:

- ``local``: the interpreter gitml runs under (``sys.executable``), as it is; its installed
  distributions are read with :mod:`importlib.metadata` (no subprocess).
- ``venv``: an interpreter matching the requested ``python`` (``"3.11"`` is any 3.11.x,
  ``"3.11.7"`` exactly that; the current one when it matches, else ``python3.11`` found on
  ``PATH``), a venv made from it and the requirements installed with its own pip. The venv lives
  in ``projects_cache("envs")/<key>/``, ``key`` = :func:`env_key` of the interpreter's full version
  and the normalised requirements text, and is reused by any later run with the same key.

A venv embeds its own absolute path, so it is built in place, under a lock file beside it
(``.<key>.lock``); the marker ``<key>/.gitml-ready`` (JSON, with the installed package versions)
is written last and atomically. A folder without the marker is a build that was interrupted: it is
removed and built again. Reuse reads the marker only (a stat and a small JSON file, no subprocess).

pip runs as ``<venv>/bin/python -m pip install ...`` (argv, never a shell), in the project folder,
with the caller's environment, so ``PIP_INDEX_URL``, ``PIP_NO_INDEX``, ``PIP_FIND_LINKS`` and
pip.conf apply: that is how a mirror, or an offline wheel folder, is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gitml._fs import atomic_write, locked
from gitml.exceptions import EnvBuildError, InvalidNameError, NotFoundError, UsageError
from gitml.paths import check_relpath
from gitml.projects.cache import projects_cache

__all__ = ["EnvBuildError", "EnvironmentLike", "PreparedEnv", "env_key", "prepare_env"]

MARKER = ".gitml-ready"
MARKER_FORMAT = 1
_KEY_LENGTH = 32  # hex digits of sha256 kept: 128 bits, and short paths in the scripts' shebang lines
_TAIL_LINES = 15
_VERSION_RE = re.compile(r"[0-9]+(?:\.[0-9]+){0,2}")
# "scheme://user:secret@host" -> "scheme://host" (pip masks passwords itself; tokens as user need this)
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")
# Variables that would send pip's install somewhere else than the venv, or leak other packages into it.
_DROPPED_VARS = ("PYTHONPATH", "PYTHONHOME", "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT")
# Works in any Python (2.7 too): the full version, then whether venv + ensurepip can be used.
_PROBE = (
    "import sys\n"
    "v = '.'.join(str(n) for n in sys.version_info[:3])\n"
    "try:\n"
    "    import venv, ensurepip\n"
    "    ok = 1\n"
    "except ImportError:\n"
    "    ok = 0\n"
    "sys.stdout.write('%s %d\\n' % (v, ok))\n"
)


class EnvironmentLike(Protocol):
    """What :func:`prepare_env` reads of a project's declared environment (``spec.Environment``)."""

    @property
    def kind(self) -> str: ...  # "local" | "python"

    @property
    def python(self) -> str | None: ...

    @property
    def requirements_file(self) -> str | None: ...

    @property
    def requirements(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class PreparedEnv:
    """An environment ready to run a project's command in."""

    manager: str  # "local" or "venv"
    python: str  # absolute path of the interpreter to run the project with
    bin_dir: str | None  # the venv's bin folder, to put first on PATH (None for local)
    key: str | None  # the venv's cache key, None for local
    python_version: str  # e.g. "3.11.7"
    packages: Mapping[str, str] = field(default_factory=dict)  # distribution name -> installed version
    reused: bool = False  # True when a cached venv was reused

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) as the project's command should see it.

        For a venv: its bin folder first on ``PATH``, ``VIRTUAL_ENV`` set, ``PYTHONHOME`` removed.
        """
        env = dict(os.environ if base is None else base)
        if self.bin_dir is not None:
            env["PATH"] = os.pathsep.join(p for p in (self.bin_dir, env.get("PATH", "")) if p)
            env["VIRTUAL_ENV"] = os.path.dirname(self.bin_dir)
            env.pop("PYTHONHOME", None)
        return env


# -- the key -------------------------------------------------------------------------------------


def normalise_requirements(text: str) -> str:
    """Requirements text with comments, blank lines, line continuations and URL credentials removed.

    Two texts that pip reads the same way (up to comments and spacing) normalise the same.
    """
    joined = re.sub(r"\\\r?\n", "", text)
    lines = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        line = re.sub(r"\s+#.*$", "", line)  # pip: a comment starts at "#" after whitespace
        line = " ".join(line.split())
        if line:
            lines.append(_USERINFO_RE.sub(r"\g<scheme>", line))
    return "".join(f"{line}\n" for line in lines)


def env_key(python_version: str, requirements_text: str, *, project_dir: str | None = None) -> str:
    """The cache key of a venv: a hash of the interpreter's full version and the requirements.

    ``requirements_text`` is normalised first (:func:`normalise_requirements`). ``project_dir`` is
    given when the requirements name local paths (``-e .``, ``./pkg``): such a venv belongs to
    that project folder.
    """
    material = f"gitml-env/{MARKER_FORMAT}\0{python_version}\0{normalise_requirements(requirements_text)}"
    if project_dir is not None:
        material += f"\0project={project_dir}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:_KEY_LENGTH]


# -- entry point ---------------------------------------------------------------------------------


def prepare_env(env: EnvironmentLike, *, project_dir: Path, manager: str | None = None) -> PreparedEnv:
    """The environment to run the project in ``project_dir`` with, built or reused.

    ``manager`` is ``"local"``, ``"venv"`` or None (``venv`` when the project declares a python
    environment, else ``local``).
    """
    if manager is None:
        manager = "venv" if env.kind == "python" else "local"
    if manager == "local":
        return _local_env()
    if manager != "venv":
        raise UsageError(f"unknown environment manager {manager!r}", hint="use local or venv")
    project_dir = Path(os.path.abspath(project_dir))
    requirements = _Requirements.read(env, project_dir)
    interpreter, version = find_interpreter(env.python)
    key = env_key(
        version, requirements.text, project_dir=str(project_dir) if requirements.local_paths else None
    )
    envs = projects_cache("envs")
    target = Path(os.path.abspath(envs)) / key
    ready = _read_marker(target, key)
    if ready is not None:
        return ready
    with locked(target.parent / f".{key}.lock"):
        ready = _read_marker(target, key)  # another process may have built it while we waited
        if ready is not None:
            return ready
        return _build(target, key, interpreter, version, requirements, project_dir)


# -- local ---------------------------------------------------------------------------------------


def _local_env() -> PreparedEnv:
    return PreparedEnv(
        manager="local",
        python=sys.executable,
        bin_dir=None,
        key=None,
        python_version=platform.python_version(),
        packages=installed_distributions(),
        reused=False,
    )


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(path: Sequence[str] | None = None) -> dict[str, str]:
    """Distribution name (canonical) -> version for what ``path`` (default ``sys.path``) imports.

    Read from the ``NAME-VERSION.dist-info`` / ``.egg-info`` folder names, which is what
    an installer writes (about 1 ms for 100 packages; parsing each METADATA file costs
    ~70 ms); a folder whose name does not say both falls back to its metadata. The
    first folder on the path wins, as for imports.
    """
    found: dict[str, str] = {}
    for folder in sys.path if path is None else path:
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                stem = entry[: -len(".dist-info")]
            elif entry.endswith(".egg-info"):
                stem = re.sub(r"-py\d+(\.\d+)*$", "", entry[: -len(".egg-info")])
            else:
                continue
            name, sep, version = stem.partition("-")
            if not sep or not version or "-" in version:
                from importlib import metadata  # ~10 ms to import: only for the odd folder name

                dist = metadata.Distribution.at(os.path.join(folder or ".", entry))
                name, version = dist.metadata["Name"] or "", dist.version or ""
                if not name or not version:
                    continue
            found.setdefault(canonical_name(name), version)
    return dict(sorted(found.items()))


# -- the interpreter -----------------------------------------------------------------------------


def find_interpreter(requested: str | None) -> tuple[str, str]:
    """``(path, full version)`` of an interpreter matching ``requested`` that can make venvs.

    The current interpreter if it matches; else ``pythonX.Y`` (then ``pythonX``) in each ``PATH``
    folder, checked by running it.
    """
    current = ".".join(str(n) for n in sys.version_info[:3])
    if requested is None:
        return sys.executable, current
    requested = str(requested).strip()
    if _VERSION_RE.fullmatch(requested) is None:
        raise UsageError(
            f"invalid python version {requested!r}", hint="write it as 3, 3.11 or 3.11.7 (quoted in YAML)"
        )
    wanted = tuple(int(n) for n in requested.split("."))
    if tuple(sys.version_info[: len(wanted)]) == wanted:
        return sys.executable, current
    names = [f"python{wanted[0]}.{wanted[1]}"] if len(wanted) >= 2 else []
    names.append(f"python{wanted[0]}")
    notes: list[str] = [f"the current one is {current}"]
    seen: set[str] = set()
    for name in names:
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            candidate = os.path.join(folder or ".", name)
            if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
                continue
            real = os.path.realpath(candidate)
            if real in seen:
                continue
            seen.add(real)
            probed = _probe(candidate)
            if probed is None:
                continue
            version, can_venv = probed
            if tuple(int(n) for n in version.split(".")[: len(wanted)]) != wanted:
                notes.append(f"{candidate} is {version}")
            elif not can_venv:
                notes.append(f"{candidate} ({version}) has no venv/ensurepip module")
            else:
                return os.path.abspath(candidate), version
    raise NotFoundError(
        f"no Python {requested} interpreter that can create a venv was found ({'; '.join(notes)})",
        hint=f"install Python {requested} so that {names[0]} is on PATH, "
        "or run with --env-manager local to use the current interpreter",
    )


def _probe(executable: str) -> tuple[str, bool] | None:
    try:
        proc = subprocess.run(
            [executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.fullmatch(r"([0-9]+\.[0-9]+\.[0-9]+) ([01])", proc.stdout.strip())
    if proc.returncode != 0 or match is None:
        return None  # e.g. a pyenv shim for a version that is installed but not selected
    return match.group(1), match.group(2) == "1"


# -- the requirements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Requirements:
    file: Path | None  # the project's requirements file, absolute
    inline: tuple[str, ...]  # MLproject python_env dependencies
    text: str  # what the key hashes: the file (with the files it includes) and the inline list
    local_paths: bool  # whether a requirement names a local path (the venv then belongs to the project)

    @classmethod
    def read(cls, env: EnvironmentLike, project_dir: Path) -> _Requirements:
        parts: list[str] = []
        file: Path | None = None
        if env.requirements_file:
            file = _inside(
                project_dir, project_dir, env.requirements_file, what="requirements file", strict=True
            )
            _collect(file, project_dir, parts, depth=0)
        inline = tuple(str(item) for item in (env.requirements or ()))
        if inline:
            parts.append("".join(f"{item}\n" for item in inline))
        text = normalise_requirements("".join(parts))
        return cls(file=file, inline=inline, text=text, local_paths=_names_local_paths(text))


_INCLUDE_RE = re.compile(r"(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?=[^\s=-]))(?P<path>\S+)")


def _collect(file: Path, project_dir: Path, parts: list[str], *, depth: int) -> None:
    """Append ``file``'s text and, recursively, that of the requirement files it includes."""
    if depth > 10:
        raise UsageError(f"requirements files include each other too deeply (at {file})")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"requirements file {os.path.relpath(file, project_dir)!r} not found in {project_dir}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read requirements file {file}: {exc}") from exc
    parts.append(text if text.endswith("\n") or not text else text + "\n")
    for line in normalise_requirements(text).splitlines():
        match = _INCLUDE_RE.fullmatch(line)
        if match is None or "://" in match.group("path"):
            continue
        included = _inside(project_dir, file.parent, match.group("path"), what="included requirements file")
        _collect(included, project_dir, parts, depth=depth + 1)


def _inside(project_dir: Path, base: Path, relpath: str, *, what: str, strict: bool = False) -> Path:
    """``base / relpath`` if it stays inside ``project_dir`` (symlinks resolved); else refuse.

    ``strict`` (the file the project names): no ``..`` or ``.`` components, no control characters.
    """
    if relpath.startswith("/") or "\\" in relpath or "\0" in relpath:
        raise InvalidNameError(f"{what} must be a relative path inside the project: {relpath!r}")
    if strict:
        check_relpath(relpath, what=what)
    root = project_dir.resolve()
    target = (base / relpath).resolve()
    if root not in target.parents:
        raise InvalidNameError(f"{what} {relpath!r} leads outside the project folder {project_dir}")
    return target


def _names_local_paths(text: str) -> bool:
    for line in text.splitlines():
        if line.startswith(("-e", "--editable", ".", "/", "file:")) or " @ file:" in line:
            return True
    return False


# -- building ------------------------------------------------------------------------------------


def _read_marker(target: Path, key: str) -> PreparedEnv | None:
    """The env at ``target`` if it is complete (marker present and valid, interpreter there)."""
    try:
        data = json.loads((target / MARKER).read_bytes())
    except (OSError, ValueError):
        return None
    python = target / "bin" / "python"
    if (
        not isinstance(data, dict)
        or data.get("format") != MARKER_FORMAT
        or data.get("key") != key
        or not isinstance(data.get("packages"), dict)
        or not os.path.exists(python)  # follows the link: the base interpreter may have been removed
    ):
        return None
    packages = {str(k): str(v) for k, v in data["packages"].items()}
    return _venv(target, key, str(data.get("python_version", "")), packages, reused=True)


def _venv(target: Path, key: str, version: str, packages: dict[str, str], *, reused: bool) -> PreparedEnv:
    return PreparedEnv(
        manager="venv",
        python=str(target / "bin" / "python"),
        bin_dir=str(target / "bin"),
        key=key,
        python_version=version,
        packages=packages,
        reused=reused,
    )


def _build(
    target: Path, key: str, interpreter: str, version: str, requirements: _Requirements, project_dir: Path
) -> PreparedEnv:
    """Make the venv at ``target`` (under the caller's lock); on any failure leave nothing behind."""
    log_path = target.parent / f"{key}.log"
    if target.exists() or target.is_symlink():
        _remove(target)  # an interrupted build: no marker
    try:
        _run(
            [interpreter, "-m", "venv", str(target)],
            what=f"creating the venv for Python {version}",
            cwd=project_dir,
            log_path=log_path,
        )
        python = target / "bin" / "python"
        install = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        if requirements.file is not None:
            install += ["-r", str(requirements.file)]
        if requirements.inline:
            inline_file = target / "gitml-requirements.txt"
            inline_file.write_text("".join(f"{item}\n" for item in requirements.inline), encoding="utf-8")
            install += ["-r", str(inline_file)]
        if requirements.file is not None or requirements.inline:
            _run(install, what="installing the requirements", cwd=project_dir, log_path=log_path)
        listing = _run(
            [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
            what="listing the installed packages",
            cwd=project_dir,
            log_path=log_path,
        )
        packages = _parse_pip_list(listing)
        marker: dict[str, Any] = {
            "format": MARKER_FORMAT,
            "key": key,
            "python_version": version,
            "base_interpreter": interpreter,
            "packages": packages,
        }
        atomic_write(target / MARKER, (json.dumps(marker, indent=1, sort_keys=True) + "\n").encode())
    except BaseException:
        _remove(target)
        raise
    with contextlib.suppress(OSError):
        log_path.unlink()
    return _venv(target, key, version, packages, reused=False)


def _run(argv: list[str], *, what: str, cwd: Path, log_path: Path) -> str:
    """Run a build step (argv, no shell); its output, or :class:`EnvBuildError` with its last lines."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARS}
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise EnvBuildError(f"{what} failed: cannot run {argv[0]}: {exc.strerror or exc}") from exc
    if proc.returncode == 0:
        return proc.stdout
    output = _USERINFO_RE.sub(r"\g<scheme>", f"{proc.stdout}{proc.stderr}")
    with contextlib.suppress(OSError):
        atomic_write(log_path, f"$ {' '.join(argv)}\n{output}".encode(), fsync=False)
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    complaint = [line for line in lines if line.startswith("ERROR:")] or lines[-1:]
    summary = "; ".join(line.removeprefix("ERROR:").strip() for line in complaint[-3:])
    raise EnvBuildError(
        f"{what} failed (exit {proc.returncode}): {summary or 'no output'}",
        output="\n".join(lines[-_TAIL_LINES:]),
        log_path=log_path,
        hint=f"pip's whole output is in {log_path}; pip reads PIP_INDEX_URL / PIP_FIND_LINKS and pip.conf "
        "for a mirror, or run with --env-manager local",
    )


def _parse_pip_list(listing: str) -> dict[str, str]:
    try:
        rows = json.loads(listing)
    except ValueError as exc:
        raise EnvBuildError(f"pip list printed something that is not JSON: {listing[:200]!r}") from exc
    packages = {
        canonical_name(str(row["name"])): str(row["version"])
        for row in rows
        if isinstance(row, dict) and "name" in row and "version" in row
    }
    return dict(sorted(packages.items()))


def _remove(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    else:
        shutil.rmtree(target, ignore_errors=True)
