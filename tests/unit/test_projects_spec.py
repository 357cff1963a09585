"""Project files (gitml.yaml, MLproject), typed parameters and argv templates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitml.exceptions import (
    ConfigError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    UsageError,
)
from gitml.projects.spec import (
    EntryPoint,
    Environment,
    Parameter,
    Project,
    ResolvedParameters,
    entry_point,
    load_project,
    parse_mlproject,
    parse_project,
    render_command,
    resolve_parameters,
)

ROOT = Path("/nonexistent/project")

EXAMPLE = """
name: churn
environment:
  python: "3.11"
  requirements: requirements.txt
entry_points:
  main:
    parameters:
      lr: {type: float, default: 0.1}
      epochs: {type: int, default: 10}
      data: {type: path, required: true}
      source: {type: uri, default: "s3://bucket/x"}
      verbose: {type: bool, default: false}
      tag: string
    command: [python, train.py, --lr, "{lr}", --epochs, "{epochs}", "--data={data}"]
    allow_extra_parameters: false
  evaluate:
    command: "python eval.py --model {model}"
    parameters: {model: {type: string, default: model.pkl}}
"""


def yaml(text: str) -> Any:
    from gitml import _yaml

    return _yaml.load(text)


def project(text: str, root: Path = ROOT) -> Project:
    return parse_project(yaml(text), root=root, source="gitml.yaml")


def mlproject(text: str, python_env: Any = None, root: Path = ROOT) -> Project:
    return parse_mlproject(yaml(text), root=root, source="MLproject", python_env=python_env)


def one_entry(params: str, command: str = "[prog]", extra: str = "false") -> EntryPoint:
    text = f"entry_points:\n  main:\n    parameters: {params}\n    command: {command}\n"
    text += f"    allow_extra_parameters: {extra}\n"
    return project(text).entry_points["main"]


def resolve(entry: EntryPoint, root: Path = ROOT, **given: Any) -> ResolvedParameters:
    return resolve_parameters(entry, given, project_root=root)


# -- gitml.yaml -----------------------------------------------------------------------------------


def test_the_example_parses_to_typed_values() -> None:
    p = project(EXAMPLE)
    assert p.name == "churn" and p.root == ROOT and p.source_file == "gitml.yaml"
    assert p.environment == Environment("python", "3.11", "requirements.txt")
    main = p.entry_points["main"]
    assert main.command == ("python", "train.py", "--lr", "{lr}", "--epochs", "{epochs}", "--data={data}")
    assert main.allow_extra is False
    assert main.parameters["lr"] == Parameter("lr", "float", 0.1)
    assert main.parameters["epochs"] == Parameter("epochs", "int", 10)
    assert main.parameters["data"] == Parameter("data", "path", None, required=True)
    assert main.parameters["source"] == Parameter("source", "uri", "s3://bucket/x")
    assert main.parameters["verbose"] == Parameter("verbose", "bool", False)
    assert main.parameters["tag"] == Parameter("tag", "string", None, required=True)
    evaluate = p.entry_points["evaluate"]
    assert evaluate.command == ("python", "eval.py", "--model", "{model}")
    assert evaluate.parameters["model"].default == "model.pkl"


def test_environment_local_and_defaults() -> None:
    assert project("environment: local\nentry_points: {}").environment == Environment("local")
    p = project("entry_points: {m: {command: x}}", root=Path("/w/proj"))
    assert p.environment == Environment("local") and p.name == "proj"
    env = project("environment: {python: '3.10', requirements: [numpy==1.26, pandas]}\nentry_points: {}")
    assert env.environment == Environment("python", "3.10", None, ("numpy==1.26", "pandas"))
    assert project("environment: {}\nentry_points: {}").environment == Environment("python")


def test_int_default_is_accepted_for_float() -> None:
    param = one_entry("{x: {type: float, default: 3}}").parameters["x"]
    assert param.default == 3.0 and isinstance(param.default, float)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("nme: x\nentry_points: {}", "unknown key 'nme'"),
        ("entry_points: {m: {command: x, comand: y}}", "entry_points.m: unknown key 'comand'"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, dfault: 1}}}}", "parameters.a"),
        ("environment: {python: '3.11', reqs: r.txt}\nentry_points: {}", "environment: unknown key"),
        ("name: x", "missing key 'entry_points'"),
        ("entry_points: {m: {parameters: {}}}", "missing key 'command'"),
        ("entry_points: [m]", "entry_points: expected a mapping"),
        ("entry_points: {m: {command: x, parameters: {a: {type: complex}}}}", "unknown type 'complex'"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, default: 1.5}}}}", "a.default"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, default: true}}}}", "a.default"),
        ("entry_points: {m: {command: x, parameters: {a: {type: float, default: .nan}}}}", "finite"),
        ("entry_points: {m: {command: x, parameters: {a: {type: bool, default: 'yes'}}}}", "a.default"),
        ("entry_points: {m: {command: x, parameters: {a: {type: string, default: 1.10}}}}", "a.default"),
        ("entry_points: {m: {command: x, parameters: {a: {type: path, default: ../x}}}}", "outside"),
        ("entry_points: {m: {command: x, parameters: {a: {type: path, default: /etc}}}}", "relative"),
        ("entry_points: {m: {command: x, parameters: {a: {type: uri, default: -x}}}}", "'-'"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, default: 1, required: true}}}}", "a"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, required: false}}}}", "needs a default"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, required: 'no'}}}}", "a.required"),
        ("entry_points: {m: {command: x, parameters: {a: }}}", "expected a mapping"),
        ("entry_points: {m: {command: x, allow_extra_parameters: 1}}", "allow_extra_parameters"),
        ("entry_points: {'-m': {command: x}}", "invalid name '-m'"),
        ("entry_points: {'a b': {command: x}}", "invalid name"),
        ("entry_points: {m: {command: x, parameters: {'a{b': string}}}", "invalid name"),
        ("entry_points: {m: {command: x, parameters: {yes: string}}}", "quote it"),
        ("entry_points: {m: {command: x, parameters: {'a:b': string}}}", "invalid name"),
        ("environment: {python: 3.10}\nentry_points: {}", "environment.python"),
        ("environment: {python: 'latest'}\nentry_points: {}", "environment.python"),
        ("environment: conda\nentry_points: {}", "environment"),
        ("environment: {requirements: ../r.txt}\nentry_points: {}", "environment.requirements"),
        ("environment: {requirements: [1, 2]}\nentry_points: {}", "environment"),
        ("name: [x]\nentry_points: {}", "name"),
        ('name: "a\\nb"\nentry_points: {}', "name"),
    ],
)
def test_bad_gitml_yaml_is_a_config_error_naming_file_and_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        project(text)
    message = str(info.value)
    assert message.startswith("gitml.yaml: ") and where in f"{message} {info.value.hint}"
    assert "\n" not in message


def test_unknown_key_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        project("entry_points: {m: {command: x, parameters: {a: {type: int, dfault: 1}}}}")
    assert "entry_points.m.parameters.a: unknown key 'dfault'" in str(info.value)
    assert info.value.hint == "did you mean 'default'?"
    assert info.value.exit_code == 3


# -- command templates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("[python, '{nope}']", "{nope} names no parameter"),
        ("'python {nope}'", "{nope} names no parameter"),
        ("'python --x={a}{b}'", "{b} names no parameter"),
        ("'python {'", "Single '{'"),
        ("'python }'", "Single '}'"),
        ("'python {}'", "invalid placeholder"),
        ("'python {a:5}'", "format spec"),
        ("'python {a!r}'", "format spec"),
        ("'python {a[0]}'", "invalid placeholder"),
        ("''", "empty"),
        ("[]", "empty"),
        ("'python \"unclosed'", "cannot split"),
        ("[python, 1.5]", "list of strings"),
        ("[python, null]", "list of strings"),
        ("{a: b}", "list of strings"),
        ("'python a.py && python b.py'", "shell syntax"),
        ("'python a.py; rm -rf x'", "shell syntax"),
        ("'python a.py | tee log'", "shell syntax"),
        ("'python a.py > out.txt'", "shell syntax"),
        ("'python a.py --home $HOME'", "shell syntax"),
        ("'python a.py $(date)'", "shell syntax"),
    ],
)
def test_bad_command_templates_are_refused_at_parse_time(command: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        one_entry("{a: string}", command=command)
    assert message in f"{info.value} {info.value.hint}"
    assert "entry_points.main.command" in str(info.value)


def test_quoted_shell_characters_are_plain_text() -> None:
    entry = one_entry("{a: string}", command="""'python a.py "x;y" ''$HOME'' --q={a}'""")
    assert entry.command == ("python", "a.py", "x;y", "$HOME", "--q={a}")


def test_double_braces_are_literal() -> None:
    entry = one_entry("{a: string}", command="""[python, '{{"k": "{a}"}}', '{{a}}', '}}{{']""")
    assert render_command(entry, {"a": "v"}) == ["python", '{"k": "v"}', "{a}", "}{"]


def test_string_command_is_split_like_a_shell_would() -> None:
    entry = one_entry("{a: string}", command="""'python "my script.py" --name "{a}" -x'""")
    assert entry.command == ("python", "my script.py", "--name", "{a}", "-x")
    assert render_command(entry, {"a": "b c"}) == ["python", "my script.py", "--name", "b c", "-x"]


def test_ints_in_a_list_command_are_text() -> None:
    assert one_entry("{}", command="[python, t.py, --n, 3]").command == ("python", "t.py", "--n", "3")


# -- resolve_parameters: conversions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("int", "3", 3),
        ("int", "-3", -3),
        ("int", "+12", 12),
        ("int", "007", 7),
        ("float", "0.1", 0.1),
        ("float", "3", 3.0),
        ("float", "-1e-3", -0.001),
        ("float", ".5", 0.5),
        ("float", "2.", 2.0),
        ("bool", "true", True),
        ("bool", "TRUE", True),
        ("bool", "Yes", True),
        ("bool", "1", True),
        ("bool", "false", False),
        ("bool", "No", False),
        ("bool", "0", False),
        ("string", "", ""),
        ("string", "a b", "a b"),
        ("string", "-x", "-x"),
        ("uri", "s3://b/k", "s3://b/k"),
        ("uri", "file:///etc/passwd", "file:///etc/passwd"),
        ("path", "data/x.csv", "data/x.csv"),
        ("path", "./data/x.csv", "data/x.csv"),
        ("path", "data/../x.csv", "x.csv"),
        ("path", "data/", "data"),
        ("path", ".", "."),
        ("path", "-rf", "./-rf"),
    ],
)
def test_given_text_is_converted_to_the_declared_type(type_: str, raw: str, expected: object) -> None:
    entry = one_entry(f"{{v: {type_}}}")
    value = resolve(entry, v=raw).values["v"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("int", "3.5"),
        ("int", "1e3"),
        ("int", ""),
        ("int", " 3"),
        ("int", "1_000"),
        ("int", "٣"),
        ("float", "abc"),
        ("float", "nan"),
        ("float", "inf"),
        ("float", "1e999"),
        ("float", "1_0.0"),
        ("float", ""),
        ("bool", "maybe"),
        ("bool", ""),
        ("bool", "2"),
        ("uri", "-rf"),
        ("uri", "--output=/etc"),
        ("string", "a\x00b"),
    ],
)
def test_text_that_does_not_fit_the_type_is_refused(type_: str, raw: str) -> None:
    entry = one_entry(f"{{v: {type_}}}")
    with pytest.raises(InvalidValueError) as info:
        resolve(entry, v=raw)
    assert str(info.value).startswith("-P v: ") and type_ in str(info.value.hint)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "raw", ["../x", "/etc/passwd", "a/../../x", "..", "", "a\\..\\..\\x", "C:/x", "//host/x", "a/\x00"]
)
def test_path_parameters_may_not_leave_the_project(raw: str, tmp_path: Path) -> None:
    entry = one_entry("{v: path}")
    with pytest.raises(InvalidValueError):
        resolve(entry, tmp_path, v=raw)


def test_a_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "proj", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "key").write_text("x")
    (root / "link").symlink_to(outside)
    (root / "inner").symlink_to(root)
    entry = one_entry("{v: path}")
    with pytest.raises(InvalidValueError, match="outside"):
        resolve(entry, root, v="link/key")
    with pytest.raises(InvalidValueError, match="outside"):
        resolve(entry, root, v="link")
    assert resolve(entry, root, v="inner/data.csv").values["v"] == "inner/data.csv"


def test_a_path_default_through_a_symlink_out_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "data").symlink_to("/etc")
    entry = one_entry("{v: {type: path, default: data/passwd}}")
    with pytest.raises(InvalidValueError, match="outside"):
        resolve(entry, tmp_path)


def test_python_api_values_keep_their_types() -> None:
    entry = one_entry("{i: int, f: float, b: bool, s: string}")
    values = resolve(entry, i=3, f=1, b=True, s="x").values
    assert values == {"i": 3, "f": 1.0, "b": True, "s": "x"} and type(values["f"]) is float
    with pytest.raises(InvalidValueError):
        resolve(entry, i=1.5, f=1, b=True, s="x")
    with pytest.raises(InvalidValueError):
        resolve(entry, i=1, f=1, b=1, s="x")


# -- resolve_parameters: defaults, required, extras -----------------------------------------------


def test_defaults_fill_what_is_not_given_and_keep_their_types(tmp_path: Path) -> None:
    main = project(EXAMPLE).entry_points["main"]
    resolved = resolve(main, tmp_path, data="d.csv", tag="t", epochs="3")
    assert resolved.values == {
        "lr": 0.1,
        "epochs": 3,
        "data": "d.csv",
        "source": "s3://bucket/x",
        "verbose": False,
        "tag": "t",
    }
    assert resolved.extras == {}
    values, extras = resolved  # also a tuple
    assert values is resolved.values and extras is resolved.extras


def test_missing_required_parameters_are_named() -> None:
    main = project(EXAMPLE).entry_points["main"]
    with pytest.raises(UsageError) as info:
        resolve(main, data="d.csv")
    assert str(info.value) == "entry point 'main' needs parameter tag" and info.value.hint == "-P tag=VALUE"
    with pytest.raises(UsageError, match="needs parameters data, tag"):
        resolve(main)


def test_undeclared_parameters_are_refused_listing_the_declared_ones() -> None:
    main = project(EXAMPLE).entry_points["main"]
    with pytest.raises(InvalidNameError) as info:
        resolve(main, data="d", tag="t", lrr="0.2")
    assert "no parameter 'lrr'" in str(info.value)
    assert info.value.hint == "declared: lr, epochs, data, source, verbose, tag"


def test_extras_when_allowed_come_back_separately_and_render_as_options() -> None:
    entry = one_entry("{a: {type: int, default: 1}}", command="[python, t.py, '{a}']", extra="true")
    resolved = resolve(entry, a="2", batch="64", name="-x y")
    assert resolved.values == {"a": 2} and resolved.extras == {"batch": "64", "name": "-x y"}
    assert resolved.all == {"a": 2, "batch": "64", "name": "-x y"}
    argv = render_command(entry, resolved.values, extras=resolved.extras)
    assert argv == ["python", "t.py", "2", "--batch", "64", "--name", "-x y"]


@pytest.mark.parametrize("key", ["-x", "a b", "", "a=b", "x\n"])
def test_extra_keys_follow_the_name_grammar(key: str) -> None:
    entry = one_entry("{}", extra="true")
    with pytest.raises(InvalidNameError):
        resolve_parameters(entry, {key: "v"}, project_root=ROOT)


def test_render_refuses_extras_for_an_entry_point_without_them() -> None:
    entry = one_entry("{}")
    with pytest.raises(InvalidNameError):
        render_command(entry, {}, extras={"a": "b"})


# -- render_command: values stay one literal argv item --------------------------------------------

INJECTIONS = [
    "; touch X",
    "$(touch X)",
    "`touch X`",
    "a\ntouch X",
    "--help",
    "-rf",
    "--data=/etc/passwd",
    '\' "; touch X; "',
    "&& touch X",
    "| touch X",
    "> X",
    "{lr}",
    "*",
    "~",
    "",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_string_values_are_one_literal_argv_item(value: str) -> None:
    entry = one_entry("{s: string}", command="[prog, --name, '{s}', 'x={s}']")
    resolved = resolve(entry, s=value)
    argv = render_command(entry, resolved.values)
    assert argv == ["prog", "--name", value, f"x={value}"]


def test_values_from_a_string_command_are_not_resplit() -> None:
    entry = project(EXAMPLE).entry_points["evaluate"]
    assert render_command(entry, {"model": "; touch X"}) == ["python", "eval.py", "--model", "; touch X"]


def test_values_render_as_str() -> None:
    main = project(EXAMPLE).entry_points["main"]
    values = resolve(main, data="d/x.csv", tag="t", lr="1e-3", verbose="yes").values
    assert render_command(main, values) == [
        "python",
        "train.py",
        "--lr",
        "0.001",
        "--epochs",
        "10",
        "--data=d/x.csv",
    ]
    entry = one_entry("{b: bool}", command="[p, '{b}']")
    assert render_command(entry, {"b": True}) == ["p", "True"]


def test_injection_strings_reach_a_real_program_literally(tmp_path: Path) -> None:
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    params = "{" + ", ".join(f"p{i}: string" for i in range(len(INJECTIONS))) + "}"
    command = "[" + ", ".join(["python", "-c", repr(code)] + [f"'{{p{i}}}'" for i in range(len(INJECTIONS))])
    entry = one_entry(params, command=command + "]", extra="true")
    given = {f"p{i}": v for i, v in enumerate(INJECTIONS)}
    resolved = resolve(entry, tmp_path, **given, x="; touch X")
    argv = render_command(entry, resolved.values, extras=resolved.extras)
    argv[0] = sys.executable
    out = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    import json

    assert json.loads(out) == [*INJECTIONS, "--x", "; touch X"]
    assert not (tmp_path / "X").exists() and os.listdir(tmp_path) == []


# -- MLproject ------------------------------------------------------------------------------------

MLPROJECT = """
name: tutorial
python_env: python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
      epochs: {type: int, default: 32}
    command: "python train.py {alpha} {l1_ratio} --epochs {epochs}"
  validate:
    parameters:
      data_file: path
      out: {type: str, default: 5}
      weird: {type: datetime, default: today}
    command: "python validate.py --data {data_file} --out {out} --w {weird}"
"""

PYTHON_ENV = {
    "python": "3.8.15",
    "build_dependencies": ["pip", "setuptools", "wheel==0.37.1"],
    "dependencies": ["mlflow", "scikit-learn==1.0.2"],
}


def test_mlproject_with_python_env() -> None:
    p = mlproject(MLPROJECT, PYTHON_ENV)
    assert p.name == "tutorial" and p.source_file == "MLproject"
    assert p.environment == Environment(
        "python", "3.8.15", None, ("pip", "setuptools", "wheel==0.37.1", "mlflow", "scikit-learn==1.0.2")
    )
    main = p.entry_points["main"]
    assert main.allow_extra is True
    assert main.command == ("python", "train.py", "{alpha}", "{l1_ratio}", "--epochs", "{epochs}")
    assert main.parameters["epochs"] == Parameter("epochs", "int", 32)
    validate = p.entry_points["validate"]
    assert validate.parameters["data_file"] == Parameter("data_file", "path", None, required=True)
    assert validate.parameters["out"] == Parameter("out", "string", "5")
    assert validate.parameters["weird"] == Parameter("weird", "string", "today")


def test_mlproject_extras_are_appended_as_options() -> None:
    main = mlproject(MLPROJECT, PYTHON_ENV).entry_points["main"]
    resolved = resolve(main, alpha="0.3", max_depth="4")
    argv = render_command(main, resolved.values, extras=resolved.extras)
    assert argv == ["python", "train.py", "0.3", "0.1", "--epochs", "32", "--max_depth", "4"]


def test_mlproject_defaults_are_converted_leniently() -> None:
    p = mlproject("entry_points: {m: {parameters: {a: {type: float, default: '0.5'}}, command: 'x {a}'}}")
    assert p.entry_points["m"].parameters["a"].default == 0.5
    p = mlproject("entry_points: {m: {parameters: {b: {type: bool, default: True}}, command: 'x {b}'}}")
    assert p.entry_points["m"].parameters["b"].default is True


def test_mlproject_without_environment_or_entry_points_is_local() -> None:
    p = mlproject("name: bare", root=Path("/w/bare"))
    assert p.environment == Environment("local") and p.entry_points == {}
    assert mlproject("entry_points:").name == "project"


@pytest.mark.parametrize("key", ["conda_env: conda.yaml", "docker_env: {image: x}"])
def test_conda_and_docker_are_refused_with_a_hint(key: str) -> None:
    with pytest.raises(ConfigError) as info:
        mlproject(f"{key}\nentry_points: {{}}")
    assert "environments are not supported" in str(info.value) and str(info.value).startswith("MLproject: ")
    assert "python_env" in str(info.value.hint) and "--env-manager local" in str(info.value.hint)
    p = parse_mlproject(
        yaml(f"{key}\nentry_points: {{}}"), root=ROOT, python_env=None, allow_unsupported_env=True
    )
    assert p.environment == Environment("local")


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("python_env: p.yaml\nconda_env: c.yaml", PYTHON_ENV, "declares both"),
        ("python_env: p.yaml", None, "was not read"),
        ("python_env: ../p.yaml", {}, "python_env"),
        ("python_env: [p.yaml]", {}, "python_env"),
        ("entry_points: {m: {parameters: {a: float}, command: 'x {b}'}}", None, "{b} names no parameter"),
        ("entry_points: {m: {parameters: {a: float}}}", None, "missing key 'command'"),
        ("entry_points: {m: {command: x, allow_extra_parameters: true}}", None, "unknown key"),
        ("entry_points: {m: {command: x, parameters: {a: {type: int, required: true}}}}", None, "unknown"),
        ("entry_points: {m: {command: x, parameters: {a: {type: float, default: abc}}}}", None, "default"),
        ("name: x\nversion: 2", None, "unknown key 'version'"),
    ],
)
def test_bad_mlproject_is_a_config_error(text: str, env: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        mlproject(text, env)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"python": 3.8}, "python"),
        ({"python": "3.8", "deps": []}, "unknown key 'deps'"),
        ({"dependencies": "numpy"}, "dependencies"),
        ({"dependencies": ["numpy\n--index-url=http://x"]}, "dependencies"),
        (["numpy"], "expected a mapping"),
    ],
)
def test_bad_python_env_names_that_file(env: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        mlproject("python_env: env/python_env.yaml", env)
    assert str(info.value).startswith("env/python_env.yaml: ") and message in str(info.value)


# -- entry_point and the *.py / *.sh fallback -----------------------------------------------------


def test_declared_entry_points_are_found() -> None:
    p = project(EXAMPLE)
    assert entry_point(p, "evaluate") is p.entry_points["evaluate"]


def test_scripts_run_as_mlflow_does(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("")
    (tmp_path / "run.sh").write_text("")
    p = project("entry_points: {}", root=tmp_path)
    train = entry_point(p, "src/train.py")
    assert train == EntryPoint("src/train.py", {}, ("python", "src/train.py"), allow_extra=True)
    resolved = resolve(train, tmp_path, lr="0.1", name="; touch X")
    assert render_command(train, resolved.values, extras=resolved.extras) == [
        "python",
        "src/train.py",
        "--lr",
        "0.1",
        "--name",
        "; touch X",
    ]
    assert entry_point(p, "run.sh").command == ("bash", "run.sh")


def test_script_fallback_refuses_missing_escaping_and_option_like_names(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (tmp_path / "evil.py").write_text("")
    (root / "-x.py").write_text("")
    (root / "out").symlink_to(tmp_path)
    p = project("entry_points: {}", root=root)
    with pytest.raises(NotFoundError, match="no script"):
        entry_point(p, "missing.py")
    for name in ("../evil.py", "/etc/x.py", "out/evil.py", "-x.py", "a\\b.py"):
        with pytest.raises(InvalidNameError):
            entry_point(p, name)


def test_unknown_entry_point_lists_the_declared_ones() -> None:
    with pytest.raises(NotFoundError) as info:
        entry_point(project(EXAMPLE), "train")
    assert "no entry point 'train'" in str(info.value)
    assert info.value.hint is not None and info.value.hint.startswith("declared: main, evaluate")


# -- load_project ---------------------------------------------------------------------------------


def test_load_gitml_yaml_is_preferred(tmp_path: Path) -> None:
    (tmp_path / "gitml.yaml").write_text(EXAMPLE)
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "MLproject").write_text("name: other\n")
    p = load_project(tmp_path)
    assert p.name == "churn" and p.source_file == "gitml.yaml" and p.root == tmp_path


def test_load_mlproject_reads_its_python_env(tmp_path: Path) -> None:
    (tmp_path / "mlproject").write_text(MLPROJECT)
    (tmp_path / "python_env.yaml").write_text("python: '3.9'\ndependencies: [numpy]\n")
    p = load_project(tmp_path)
    assert p.source_file == "mlproject"
    assert p.environment == Environment("python", "3.9", None, ("numpy",))


def test_load_mlproject_uses_a_default_python_env_yaml(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("name: x\nentry_points: {}\n")
    assert load_project(tmp_path).environment == Environment("local")
    (tmp_path / "python_env.yaml").write_text("python: '3.12'\n")
    assert load_project(tmp_path).environment == Environment("python", "3.12")


def test_load_refuses_conda_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("conda_env: conda.yaml\nentry_points: {}\n")
    with pytest.raises(ConfigError, match="conda"):
        load_project(tmp_path)
    assert load_project(tmp_path, allow_unsupported_env=True).environment == Environment("local")


def test_load_without_a_project_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        load_project(tmp_path)
    assert "gitml.yaml" in str(info.value) and info.value.hint
    with pytest.raises(NotFoundError):
        load_project(tmp_path / "missing")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"gitml.yaml": "entry_points: {a: [\n"}, "gitml.yaml: not valid YAML at line 2"),
        ({"gitml.yaml": "a: !!python/object:os.system x\n"}, "gitml.yaml: not valid YAML"),
        ({"gitml.yaml": ""}, "gitml.yaml: expected a mapping"),
        ({"gitml.yaml": "- a\n"}, "gitml.yaml: expected a mapping"),
        ({"gitml.yaml": b"name: \xff\n"}, "gitml.yaml: not valid YAML"),
        ({"gitml.yaml": "environment: {requirements: r.txt}\nentry_points: {}\n"}, "no file 'r.txt'"),
        ({"MLproject": "python_env: p.yaml\n"}, "MLproject: python_env: no file 'p.yaml'"),
        ({"MLproject": "python_env: p.yaml\n", "p.yaml": "python: [\n"}, "p.yaml: not valid YAML"),
        ({"MLproject": "name: [\n"}, "MLproject: not valid YAML"),
    ],
)
def test_load_bad_files_are_config_errors(tmp_path: Path, files: dict[str, Any], message: str) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_load_refuses_project_files_that_are_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (tmp_path / "real.yaml").write_text("entry_points: {}\n")
    (root / "gitml.yaml").symlink_to(tmp_path / "real.yaml")
    with pytest.raises(ConfigError, match="outside"):
        load_project(root)
    (root / "gitml.yaml").unlink()
    (root / "gitml.yaml").write_text("environment: {requirements: r.txt}\nentry_points: {}\n")
    (root / "r.txt").symlink_to(tmp_path / "real.yaml")
    with pytest.raises(ConfigError, match="outside"):
        load_project(root)


def test_load_in_a_subdirectory(tmp_path: Path) -> None:
    sub = tmp_path / "projects" / "churn"
    sub.mkdir(parents=True)
    (sub / "gitml.yaml").write_text("entry_points: {main: {command: [python, t.py]}}\n")
    p = load_project(sub)
    assert p.root == sub and p.name == "churn"
