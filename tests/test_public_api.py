"""The public surface of the ``gitml`` package: exports, the exception tree, layering and import cost."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import gitml
from gitml import exceptions

PACKAGE = Path(gitml.__file__).resolve().parent
HEAVY = ("yaml", "dulwich", "pandas", "numpy", "fsspec", "s3fs", "botocore", "matplotlib", "PIL")


# -- exports --------------------------------------------------------------------------------------


def test_all_is_sorted() -> None:
    assert list(gitml.__all__) == sorted(gitml.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(gitml.__all__) == len(set(gitml.__all__))


def test_every_exported_name_resolves() -> None:
    for name in gitml.__all__:
        assert getattr(gitml, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        gitml.no_such_thing  # noqa: B018
    assert not hasattr(gitml, "no_such_thing")


def public_exception_classes() -> list[type[BaseException]]:
    return [
        obj
        for name, obj in vars(exceptions).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == exceptions.__name__
    ]


def test_every_public_exception_is_exported() -> None:
    classes = public_exception_classes()
    assert classes, "gitml.exceptions defines exceptions"
    missing = [cls.__name__ for cls in classes if cls.__name__ not in gitml.__all__]
    assert missing == []
    for cls in classes:
        assert getattr(gitml, cls.__name__) is cls
    assert sorted(exceptions.__all__) == sorted(cls.__name__ for cls in classes)


def test_dir_works() -> None:
    names = dir(gitml)
    assert isinstance(names, list)
    assert set(gitml.__all__) <= set(names)
    assert "log_metric" in names and "GitMLError" in names


# -- exception tree -------------------------------------------------------------------------------


def test_every_error_is_a_gitml_error() -> None:
    for cls in public_exception_classes():
        assert issubclass(cls, exceptions.GitMLError), cls


def test_each_error_has_an_int_exit_code() -> None:
    for cls in public_exception_classes():
        code = cls.exit_code  # type: ignore[attr-defined]
        assert type(code) is int, cls
        assert 1 <= code <= 255, cls


def test_direct_subclasses_have_distinct_exit_codes() -> None:
    direct = [cls for cls in public_exception_classes() if exceptions.GitMLError in cls.__bases__]
    assert direct
    codes = {cls.__name__: cls.exit_code for cls in direct}  # type: ignore[attr-defined]
    assert len(set(codes.values())) == len(codes), codes
    assert exceptions.GitMLError.exit_code not in codes.values(), "each family has its own code"


def test_error_keeps_message_and_hint() -> None:
    error = exceptions.RunNotFoundError("no run abc", hint="try gitml runs list")
    assert str(error) == "no run abc"
    assert error.message == "no run abc"
    assert error.hint == "try gitml runs list"
    assert error.exit_code == 4


# -- layering (read from the source, nothing imported) ---------------------------------------------


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    return module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]


def imported_modules(source: str, package: str) -> set[str]:
    """Every absolute module name ``source`` imports (relative imports resolved, lazy ones included)."""
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                name in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = {
    path.relative_to(PACKAGE.parent).as_posix(): imported_modules(
        path.read_text(encoding="utf-8"), package_of(path)
    )
    for path in SOURCES
}


def importers_of(top: str) -> set[str]:
    return {file for file, mods in IMPORTS.items() if any(m == top or m.startswith(top + ".") for m in mods)}


def test_sources_found() -> None:
    assert "gitml/repo/worktree.py" in IMPORTS
    assert "gitml/tracking/query.py" in IMPORTS
    assert any(f.startswith("gitml/cli/") for f in IMPORTS)


def test_import_scanner_sees_every_kind_of_import() -> None:
    source = (
        "import a.b\n"
        "from c import d\n"
        "from . import e\n"
        "from ..f import g\n"
        "def lazy():\n"
        "    import h\n"
        "    importlib.import_module('i.j')\n"
        "    __import__('k')\n"
        "if TYPE_CHECKING:\n"
        "    from l import m\n"
    )
    found = imported_modules(source, "gitml.tracking")
    for name in ("a.b", "c", "c.d", "gitml.tracking.e", "gitml.f", "gitml.f.g", "h", "i.j", "k", "l"):
        assert name in found, name


def test_dulwich_only_in_repo() -> None:
    assert {p for p in importers_of("dulwich") if not p.startswith("gitml/repo/")} == set()


def test_click_only_in_cli() -> None:
    assert {f for f in importers_of("click") if not f.startswith("gitml/cli/")} == set()


def test_pandas_only_in_query() -> None:
    assert importers_of("pandas") <= {"gitml/tracking/query.py"}


@pytest.mark.parametrize("top", ["fsspec", "s3fs", "boto3", "botocore", "aiobotocore"])
def test_object_storage_libraries_only_in_the_store(top: str) -> None:
    """DESIGN.md: store is the only place that knows fsspec/s3fs (and nothing imports boto directly)."""
    assert importers_of(top) <= {"gitml/store/remote.py"}


def test_nothing_outside_cli_imports_cli() -> None:
    # gitml/__main__.py is the `python -m gitml` entry point: it is part of the command line.
    outside = {
        f for f in importers_of("gitml.cli") if not f.startswith("gitml/cli/") and f != "gitml/__main__.py"
    }
    assert outside == set()


def test_library_never_prints_or_exits() -> None:
    """DESIGN.md: the library never prints and never calls sys.exit; the CLI renders."""
    offenders = []
    for path in SOURCES:
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel.startswith("gitml/cli/") or rel == "gitml/__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in ("print", "exit", "quit"):
                    offenders.append(f"{rel}:{node.lineno} {func.id}()")
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr == "exit"
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "sys"
                ):
                    offenders.append(f"{rel}:{node.lineno} sys.exit()")
    assert offenders == []


# -- start-up cost (fresh interpreters) -------------------------------------------------------------


def loaded_heavy_modules(code: str, tmp_path: Path) -> str:
    probe = f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\n{probe}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    assert loaded_heavy_modules("import gitml.cli", tmp_path) == "[]"


def test_importing_gitml_loads_no_heavy_module(tmp_path: Path) -> None:
    assert loaded_heavy_modules("import gitml\nimport gitml.exceptions", tmp_path) == "[]"


def test_log_metric_attribute_does_not_load_dulwich_or_pandas(tmp_path: Path) -> None:
    out = loaded_heavy_modules("import gitml\ngitml.log_metric", tmp_path)
    loaded = ast.literal_eval(out)
    assert [m for m in loaded if m.split(".")[0] in ("dulwich", "pandas", "numpy")] == []
