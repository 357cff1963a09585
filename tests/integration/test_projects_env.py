"""Project environments: real venvs built with real pip, from a wheel folder made by the tests (offline).

Building a venv takes a few seconds, so the module shares a handful: ``built`` (tinypkg==1.2.3),
an empty one (the half-built test), one for the concurrency test and one for the failure test.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitml.exceptions import InvalidNameError, NotFoundError, UsageError
from gitml.projects.env import (
    MARKER,
    EnvBuildError,
    PreparedEnv,
    _Requirements,
    env_key,
    prepare_env,
)
from tests.projects_helpers import build_wheel, offline_pip_env, wheelhouse

ROOT = Path(__file__).resolve().parents[2]
CURRENT = platform.python_version()

__all__ = ["wheelhouse"]  # the fixture, imported from the helpers


@dataclass(frozen=True)
class Env:
    """Stands in for gitml.projects.spec.Environment."""

    kind: str = "python"
    python: str | None = None
    requirements_file: str | None = None
    requirements: tuple[str, ...] = ()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Path]:
    """GITML_CACHE_DIR in a tmp folder, pip offline on the wheel folder, for the whole module."""
    root = tmp_path_factory.mktemp("gitml-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITML_CACHE_DIR", str(root))
        for name, value in offline_pip_env(wheelhouse).items():
            mp.setenv(name, value)
        yield root


def envs_dir(cache: Path) -> Path:
    return cache / "projects" / "envs"


def project(tmp: Path, requirements: str | None = "tinypkg==1.2.3\n") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        (tmp / "requirements.txt").write_text(requirements)
    return tmp


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project(tmp_path_factory.mktemp("tiny-project"))


@pytest.fixture(scope="module")
def built(cache: Path, tiny_project: Path) -> tuple[PreparedEnv, float]:
    """The tinypkg venv, built once for the module, and the seconds the build took."""
    start = time.perf_counter()
    prepared = prepare_env(Env(requirements_file="requirements.txt"), project_dir=tiny_project)
    return prepared, time.perf_counter() - start


# -- the key --------------------------------------------------------------------------------------


def test_key_ignores_comments_blank_lines_and_spacing() -> None:
    a = env_key("3.11.7", "tinypkg==1.2.3\nother>=1\n")
    b = env_key("3.11.7", "# pinned\n\n  tinypkg==1.2.3   # the tiny one\nother>=1")
    assert a == b
    assert len(a) == 32 and all(c in "0123456789abcdef" for c in a)


def test_key_changes_with_python_version_requirements_and_project() -> None:
    base = env_key("3.11.7", "tinypkg==1.2.3\n")
    assert env_key("3.11.8", "tinypkg==1.2.3\n") != base
    assert env_key("3.11.7", "tinypkg==1.2.4\n") != base
    assert env_key("3.11.7", "tinypkg==1.2.3\n", project_dir="/p") != base


def test_key_ignores_credentials_in_index_urls() -> None:
    with_token = env_key("3.11.7", "--index-url https://user:s3cret@pypi.example/simple\nx\n")
    assert with_token == env_key("3.11.7", "--index-url https://pypi.example/simple\nx\n")


def test_included_requirement_files_are_part_of_the_key(tmp_path: Path) -> None:
    proj = project(tmp_path / "p", "-r ./reqs/dev.txt\n")
    (proj / "reqs").mkdir()
    (proj / "reqs" / "dev.txt").write_text("--requirement=../base.txt\n")
    (proj / "base.txt").write_text("tinypkg==1.2.3\n")
    first = _Requirements.read(Env(requirements_file="requirements.txt"), proj)
    (proj / "base.txt").write_text("tinypkg==1.2.4\n")
    second = _Requirements.read(Env(requirements_file="requirements.txt"), proj)
    assert "tinypkg==1.2.3" in first.text and "tinypkg==1.2.4" in second.text
    assert env_key(CURRENT, first.text) != env_key(CURRENT, second.text)


def test_local_path_requirements_tie_the_env_to_the_project(tmp_path: Path) -> None:
    assert _Requirements.read(Env(requirements=("-e .",)), tmp_path).local_paths
    assert _Requirements.read(Env(requirements=("./pkg",)), tmp_path).local_paths
    assert not _Requirements.read(Env(requirements=("tinypkg==1.2.3",)), tmp_path).local_paths


# -- a venv, built once and reused ------------------------------------------------------------------


def test_venv_is_built_with_the_requirements(built: tuple[PreparedEnv, float], cache: Path) -> None:
    prepared, _ = built
    assert prepared.manager == "venv"
    assert prepared.reused is False
    assert prepared.python_version == CURRENT
    assert prepared.key == env_key(CURRENT, "tinypkg==1.2.3\n")
    folder = envs_dir(cache) / prepared.key
    assert prepared.python == str(folder / "bin" / "python")
    assert prepared.bin_dir == str(folder / "bin")
    assert prepared.packages["tinypkg"] == "1.2.3"
    assert "pip" in prepared.packages
    assert json.loads((folder / MARKER).read_text())["packages"]["tinypkg"] == "1.2.3"


def test_the_venv_python_imports_the_package(built: tuple[PreparedEnv, float], tmp_path: Path) -> None:
    prepared, _ = built
    proc = subprocess.run(
        ["python", "-c", "import sys, tinypkg; print(tinypkg.__version__, sys.prefix)"],
        env=prepared.environ(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    version, prefix = proc.stdout.split()
    assert version == "1.2.3"
    assert prefix == os.path.dirname(str(prepared.bin_dir))
    # and gitml's own interpreter does not have it
    assert subprocess.run([sys.executable, "-c", "import tinypkg"], capture_output=True).returncode != 0


def test_second_prepare_reuses_the_venv_quickly(built: tuple[PreparedEnv, float], tiny_project: Path) -> None:
    first, _ = built
    assert first.key is not None
    folder = Path(first.python).parent.parent
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder, folder / MARKER, folder / "bin")]
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        again = prepare_env(Env(requirements_file="requirements.txt"), project_dir=tiny_project)
        timings.append(time.perf_counter() - start)
        assert again.reused is True
        assert (again.key, again.python, again.bin_dir) == (first.key, first.python, first.bin_dir)
        assert again.packages == first.packages
    assert min(timings) < 0.2, timings  # a stat and a small JSON file: ~1 ms here
    after = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder, folder / MARKER, folder / "bin")]
    assert after == before


def test_python_minor_version_matches_the_current_interpreter(
    built: tuple[PreparedEnv, float], tiny_project: Path
) -> None:
    first, _ = built
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in (minor, CURRENT, str(sys.version_info[0])):
        again = prepare_env(
            Env(python=python, requirements_file="requirements.txt"), project_dir=tiny_project
        )
        assert again.reused is True and again.key == first.key, python


def test_inline_requirements_with_the_same_text_share_the_venv(
    built: tuple[PreparedEnv, float], tmp_path: Path
) -> None:
    """MLproject's python_env dependencies are read like a requirements file."""
    first, _ = built
    again = prepare_env(Env(requirements=("tinypkg==1.2.3",)), project_dir=tmp_path)
    assert again.reused is True and again.key == first.key


def test_manager_defaults_to_venv_for_a_python_environment(
    built: tuple[PreparedEnv, float], tiny_project: Path
) -> None:
    again = prepare_env(Env(requirements_file="requirements.txt"), project_dir=tiny_project, manager="venv")
    assert again.manager == "venv" and again.key == built[0].key


# -- rebuilding, other keys ---------------------------------------------------------------------------


def test_half_built_env_is_removed_and_rebuilt(cache: Path, tmp_path: Path) -> None:
    proj = project(tmp_path / "empty", "# no requirements\n")
    key = env_key(CURRENT, "")
    folder = envs_dir(cache) / key
    (folder / "bin").mkdir(parents=True)
    (folder / "leftover").write_text("from a build that was killed")
    prepared = prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj)
    assert prepared.reused is False and prepared.key == key
    assert not (folder / "leftover").exists()
    assert (folder / MARKER).is_file()
    assert "tinypkg" not in prepared.packages
    assert prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj).reused is True


def test_different_requirements_give_a_second_venv(
    built: tuple[PreparedEnv, float], cache: Path, tmp_path: Path
) -> None:
    other = prepare_env(Env(), project_dir=tmp_path)  # no requirements at all
    assert other.key != built[0].key
    assert other.python != built[0].python
    ready = sorted(p.name for p in envs_dir(cache).iterdir() if (p / MARKER).is_file())
    assert built[0].key in ready and other.key in ready


def test_unsatisfiable_requirement_fails_clearly_and_is_retried(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = project(tmp_path / "p", "tinypkg==2.0.0\n")
    key = env_key(CURRENT, "tinypkg==2.0.0\n")
    with pytest.raises(EnvBuildError) as info:
        prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert "installing the requirements failed" in message
    assert "No matching distribution found for tinypkg==2.0.0" in message
    assert "tinypkg==2.0.0" in error.output
    assert error.exit_code == 12
    assert error.hint is not None and "--env-manager local" in error.hint
    assert not (envs_dir(cache) / key).exists()  # nothing left that looks ready, nor half built
    assert error.log_path is not None and "No matching distribution" in error.log_path.read_text()

    # the next call retries: with the wheel now available it succeeds
    more = tmp_path / "more-wheels"
    build_wheel(more, version="2.0.0")
    monkeypatch.setenv("PIP_FIND_LINKS", f"{more} {os.environ['PIP_FIND_LINKS']}")
    prepared = prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj)
    assert prepared.reused is False and prepared.packages["tinypkg"] == "2.0.0"
    assert not error.log_path.exists()


def test_two_processes_preparing_the_same_env_build_it_once(cache: Path, tmp_path: Path) -> None:
    proj = project(tmp_path / "p", "tinypkg>=1.0\n")
    script = (
        "import json, sys, types\n"
        "from pathlib import Path\n"
        "from gitml.projects.env import prepare_env\n"
        "env = types.SimpleNamespace(kind='python', python=None, "
        "requirements_file='requirements.txt', requirements=())\n"
        "r = prepare_env(env, project_dir=Path(sys.argv[1]))\n"
        "print(json.dumps({'key': r.key, 'reused': r.reused, 'packages': dict(r.packages)}))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(proj)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert results[0]["key"] == results[1]["key"]
    assert sorted(r["reused"] for r in results) == [False, True]
    assert all(r["packages"]["tinypkg"] == "1.2.3" for r in results)
    key = results[0]["key"]
    assert [p.name for p in envs_dir(cache).iterdir() if p.name.startswith(key)] == [key]


# -- the interpreter --------------------------------------------------------------------------------


def test_missing_python_version_is_a_clear_error(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no python2.7 there, whatever the machine
    proj = project(tmp_path / "p")
    with pytest.raises(NotFoundError) as info:
        prepare_env(Env(python="2.7", requirements_file="requirements.txt"), project_dir=proj)
    assert "Python 2.7" in str(info.value) and CURRENT in str(info.value)
    assert info.value.hint is not None
    assert "python2.7" in info.value.hint and "--env-manager local" in info.value.hint


def test_a_version_on_path_is_found_by_running_it(cache: Path, tmp_path: Path) -> None:
    """python3.N on PATH that is not the version asked for is named in the error (it was run)."""
    from gitml.projects.env import find_interpreter

    other = f"{sys.version_info[0]}.{sys.version_info[1] + 40}"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / f"python{other}"
    fake.symlink_to(sys.executable)  # claims 3.N+40 by its name, is the current version when run
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(fake_bin))
        with pytest.raises(NotFoundError) as info:
            find_interpreter(other)
        assert f"{fake} is {CURRENT}" in str(info.value)
        path, version = find_interpreter(CURRENT)
        assert (path, version) == (sys.executable, CURRENT)


def test_malformed_python_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="invalid python version"):
        prepare_env(Env(python="3.11; rm -rf /"), project_dir=tmp_path)


# -- local ------------------------------------------------------------------------------------------


def test_local_manager_uses_the_current_interpreter(tmp_path: Path) -> None:
    prepared = prepare_env(Env(kind="local"), project_dir=tmp_path)
    assert prepared.manager == "local"
    assert prepared.python == sys.executable
    assert prepared.bin_dir is None and prepared.key is None and prepared.reused is False
    assert prepared.python_version == CURRENT
    assert prepared.packages["pytest"] == pytest.__version__
    assert prepared.environ({"PATH": "/x"}) == {"PATH": "/x"}


def test_local_manager_overrides_a_declared_python_environment(tmp_path: Path) -> None:
    prepared = prepare_env(Env(requirements=("tinypkg",)), project_dir=tmp_path, manager="local")
    assert prepared.manager == "local" and prepared.python == sys.executable


def test_unknown_manager_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown environment manager 'conda'"):
        prepare_env(Env(), project_dir=tmp_path, manager="conda")


# -- requirement files that are not the project's -----------------------------------------------------


@pytest.mark.parametrize("path", ["../x.txt", "/etc/passwd", "reqs/../../x.txt", "a\\..\\x.txt"])
def test_requirements_path_escaping_the_project_is_refused(tmp_path: Path, path: str) -> None:
    proj = project(tmp_path / "p")
    (tmp_path / "x.txt").write_text("tinypkg\n")
    with pytest.raises(InvalidNameError):
        prepare_env(Env(requirements_file=path), project_dir=proj)


def test_requirements_symlink_leading_out_is_refused(tmp_path: Path) -> None:
    proj = project(tmp_path / "p", None)
    (tmp_path / "outside.txt").write_text("tinypkg\n")
    (proj / "requirements.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(InvalidNameError, match="outside the project"):
        prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj)


def test_included_requirements_escaping_the_project_are_refused(tmp_path: Path) -> None:
    proj = project(tmp_path / "p", "-r ../secrets.txt\n")
    (tmp_path / "secrets.txt").write_text("x\n")
    with pytest.raises(InvalidNameError, match="outside the project"):
        prepare_env(Env(requirements_file="requirements.txt"), project_dir=proj)


def test_missing_requirements_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"requirements file 'nope\.txt' not found"):
        prepare_env(Env(requirements_file="nope.txt"), project_dir=tmp_path)
