"""Tests for gitml.runid: format, ordering, monotonicity, uniqueness and validation of run ids."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import threading
import time
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from gitml import runid
from gitml.exceptions import InvalidNameError, UsageError
from gitml.runid import RUN_ID_LENGTH, check_run_id, new_run_id, run_id_time_ms

CROCKFORD_LOWER = "0123456789abcdefghjkmnpqrstvwxyz"
ID_RE = re.compile(rf"[{CROCKFORD_LOWER}]{{26}}")
MAX_MS = 2**48 - 1  # ULID time range


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the last id this process made (restored after the test)."""
    monkeypatch.setattr(runid, "_last", (-1, 0))


# -- format ---------------------------------------------------------------------------------------


def test_length_constant() -> None:
    assert RUN_ID_LENGTH == 26


def test_format_is_26_lowercase_crockford_chars() -> None:
    for _ in range(200):
        value = new_run_id()
        assert isinstance(value, str)
        assert len(value) == RUN_ID_LENGTH
        assert ID_RE.fullmatch(value), value
        assert not set(value) & set("ilouILOU")
        assert value == value.lower()


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("ms", [0, 1, 31, 32, 1_764_154_165_123, MAX_MS])
def test_format_at_extreme_times(ms: int) -> None:
    value = new_run_id(now_ms=ms)
    assert ID_RE.fullmatch(value), value


def test_safe_as_path_component() -> None:
    value = new_run_id()
    for pure in (PurePosixPath(value), PureWindowsPath(value)):
        assert pure.name == value
        assert len(pure.parts) == 1
    assert not value.startswith(("-", "."))
    assert value.isalnum() and value.isascii()


def test_safe_as_git_ref_component(tmp_path: Path) -> None:
    value = new_run_id()
    proc = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/{value}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# -- ordering and time ------------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh")
def test_ids_sort_by_time_within_a_process() -> None:
    times = [0, 1, 2, 31, 32, 33, 1000, 1_764_154_165_122, 1_764_154_165_123, MAX_MS - 1, MAX_MS]
    ids = [new_run_id(now_ms=ms) for ms in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [(0, 1), (31, 32), (1_764_154_165_122, 1_764_154_165_123), (2**40 - 1, 2**40), (MAX_MS - 1, MAX_MS)],
)
def test_time_dominates_the_random_part(monkeypatch: pytest.MonkeyPatch, earlier: int, later: int) -> None:
    """Ids from independent processes (fresh state each) still sort by time, whatever the random bits."""
    for _ in range(50):
        monkeypatch.setattr(runid, "_last", (-1, 0))
        a = new_run_id(now_ms=earlier)
        monkeypatch.setattr(runid, "_last", (-1, 0))
        b = new_run_id(now_ms=later)
        assert a < b, (a, b)


@pytest.mark.usefixtures("fresh")
def test_monotonic_within_the_same_millisecond() -> None:
    ms = 1_764_154_165_123
    ids = [new_run_id(now_ms=ms) for _ in range(2000)]
    assert all(a < b for a, b in itertools.pairwise(ids)), "ids must strictly increase"
    assert {run_id_time_ms(i) for i in ids} == {ms}


@pytest.mark.usefixtures("fresh")
def test_default_clock_ids_strictly_increase_and_carry_now() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_run_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert before <= run_id_time_ms(ids[0]) <= run_id_time_ms(ids[-1]) <= after


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("ms", [0, 1, 32, 1023, 1024, 1_764_154_165_123, 2**47, MAX_MS])
def test_run_id_time_ms_round_trip(ms: int) -> None:
    assert run_id_time_ms(new_run_id(now_ms=ms)) == ms


def test_run_id_time_ms_rejects_invalid_ids() -> None:
    with pytest.raises(InvalidNameError):
        run_id_time_ms("not-a-run-id")


# -- uniqueness -----------------------------------------------------------------------------------


def test_unique_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(new_run_id() for _ in range(1000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in results for i in out]
    assert len(every) == 4000
    assert len(set(every)) == 4000
    for out in results:
        assert out == sorted(out)


def test_unique_across_processes(tmp_path: Path) -> None:
    code = "from gitml.runid import new_run_id\nprint('\\n'.join(new_run_id() for _ in range(2000)))\n"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out.split())
    every = [i for out in outputs for i in out]
    assert len(every) == 8000
    assert len(set(every)) == 8000, "duplicate run ids across processes"
    for out in outputs:
        assert all(ID_RE.fullmatch(i) for i in out)
        assert out == sorted(out)


# -- validation -----------------------------------------------------------------------------------


def test_check_run_id_returns_a_valid_id() -> None:
    value = new_run_id()
    assert check_run_id(value) is value


def _valid() -> str:
    return new_run_id()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda v: v[:-1], id="25-chars"),
        pytest.param(lambda v: v + "0", id="27-chars"),
        pytest.param(lambda v: "", id="empty"),
        pytest.param(lambda v: v.upper(), id="uppercase"),
        pytest.param(lambda v: v[:-1] + "A", id="one-uppercase"),
        pytest.param(lambda v: "../x", id="dotdot-short"),
        pytest.param(lambda v: "../" + v[3:], id="dotdot-26"),
        pytest.param(lambda v: v[:-2] + "/x", id="slash"),
        pytest.param(lambda v: v[:-1] + "i", id="letter-i"),
        pytest.param(lambda v: v[:-1] + "l", id="letter-l"),
        pytest.param(lambda v: v[:-1] + "o", id="letter-o"),
        pytest.param(lambda v: v[:-1] + "u", id="letter-u"),
        pytest.param(lambda v: v + "\n", id="trailing-newline"),
        pytest.param(lambda v: " " + v[1:], id="leading-space"),
        pytest.param(lambda v: v[:-1] + "\x00", id="nul"),
        pytest.param(lambda v: "-" + v[1:], id="leading-dash"),
    ],
)
def test_check_run_id_rejects_malformed_strings(bad: object) -> None:
    value = bad(_valid())  # type: ignore[operator]
    with pytest.raises(InvalidNameError) as info:
        check_run_id(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [None, 123, 1.5, ["0" * 26], b"0" * 26, object()])
def test_check_run_id_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidNameError):
        check_run_id(value)


def test_invalid_run_id_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        check_run_id("nope")
