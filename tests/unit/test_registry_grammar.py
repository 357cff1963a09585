"""The registry grammar (pure): model names, stages, versions, tag names and ``models:/`` URIs."""

from __future__ import annotations

import pytest

from gitml.exceptions import InvalidNameError, UsageError
from gitml.registry.grammar import (
    MAX_NAME_LENGTH,
    ModelsURI,
    TagKind,
    TagName,
    Version,
    check_model_name,
    check_stage,
    deprecation_tag,
    parse_models_uri,
    parse_tag,
    parse_version,
    registration_tag,
    stage_tag,
)

V = Version

# -- model names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["churn", "fraud-v2", "a", "7", "x.y_z-1", "model.v2", "a" * MAX_NAME_LENGTH, "0churn9"],
)
def test_good_model_names_are_returned(name: str) -> None:
    assert check_model_name(name) == name


BAD_NAMES = [
    "../a",
    "a b",
    "-x",
    "a..b",
    "a.lock",
    "@{",
    "",
    "a/b",
    "a@b",
    "a#b",
    "a!",
    ".a",
    "a.",
    "a-",
    "_a",
    "a\nb",
    "a~1",
    "a^",
    "a:b",
    "café",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names_are_refused_with_a_hint(name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_model_name(name)
    assert isinstance(info.value, UsageError)  # exit code 2: the caller asked for something malformed
    assert info.value.hint and "lowercase" in info.value.hint


@pytest.mark.parametrize("name", [None, 3, b"churn"])
def test_a_model_name_must_be_a_string(name: object) -> None:
    with pytest.raises(InvalidNameError, match="non-empty string"):
        check_model_name(name)


def test_a_name_one_character_too_long_is_refused() -> None:
    with pytest.raises(InvalidNameError, match="longer than 100 characters"):
        check_model_name("a" * (MAX_NAME_LENGTH + 1))


def test_a_name_too_long_gets_a_hint() -> None:
    with pytest.raises(InvalidNameError) as info:
        check_model_name("a" * (MAX_NAME_LENGTH + 1))
    assert info.value.hint


@pytest.mark.parametrize("name", ["Churn", "CHURN", "fraud-V2"])
def test_an_uppercase_name_is_told_names_are_lowercase(name: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_model_name(name)
    assert info.value.hint == "model names are lowercase"
    assert repr(name) in str(info.value)


def test_ref_breaking_names_say_why() -> None:
    for name in ("a..b", "a.lock"):
        with pytest.raises(InvalidNameError, match=r"no '\.\.' and no '\.lock' ending"):
            check_model_name(name)


# -- stages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["production", "prod", "staging-2", "qa_1", "a", "v", "canary-eu"])
def test_good_stages(stage: str) -> None:
    assert check_stage(stage) == stage


@pytest.mark.parametrize(
    "stage",
    [
        "latest",
        "deprecated",
        "v3",
        "v1.2.3",
        "3",
        "-x",
        "Prod",
        "PRODUCTION",
        "",
        "pro d",
        "a-",
        "a.b",
        "a#b",
    ],
)
def test_bad_stages_are_refused_with_a_hint(stage: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_stage(stage)
    assert info.value.hint and "stages are lowercase" in info.value.hint


def test_reserved_and_version_like_stages_say_why() -> None:
    for stage in ("latest", "deprecated", "v3"):
        with pytest.raises(InvalidNameError, match="reads as a version or a reserved word"):
            check_stage(stage)


def test_a_stage_too_long_is_refused() -> None:
    assert check_stage("s" * 64) == "s" * 64
    with pytest.raises(InvalidNameError, match="longer than 64"):
        check_stage("s" * 65)


# -- versions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [("v3", (3,)), ("3", (3,)), ("v1.2.3", (1, 2, 3)), ("1.2.3", (1, 2, 3)), ("v0", (0,)), ("v10", (10,))],
)
def test_parse_version(text: str, parts: tuple[int, ...]) -> None:
    version = parse_version(text)
    assert version == Version(parts)
    assert str(version) == "v" + text.removeprefix("v")
    assert version.semver == (len(parts) == 3)


@pytest.mark.parametrize("text", ["", "v", "vv1", "v-1", "v1.2", "1.2.3.4", "x", "v1a", " v1", "v1 ", "V1"])
def test_bad_versions_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_version(text)
    assert info.value.hint == "use vN (v3) or vX.Y.Z (v1.2.0)"


@pytest.mark.parametrize("text", [None, 3, 1.5])
def test_a_version_must_be_text(text: object) -> None:
    with pytest.raises(InvalidNameError):
        parse_version(text)


def test_strict_prefix_requires_the_v() -> None:
    assert parse_version("v3", strict_prefix=True) == V((3,))
    with pytest.raises(InvalidNameError):
        parse_version("3", strict_prefix=True)


def test_only_ascii_digits_make_a_version() -> None:
    with pytest.raises(InvalidNameError):
        parse_version("v\u0663")  # ARABIC-INDIC DIGIT THREE


def test_versions_order_numerically() -> None:
    assert parse_version("v2") < parse_version("v10")
    assert parse_version("v3") < parse_version("v3.0.1")
    assert parse_version("v3.0.1") < parse_version("v4")
    assert parse_version("v1.10.0") > parse_version("v1.9.9")
    texts = ["v10", "v2", "v1.2.3", "v3", "v1", "v3.0.1"]
    assert [str(v) for v in sorted(map(parse_version, texts))] == [
        "v1",
        "v1.2.3",
        "v2",
        "v3",
        "v3.0.1",
        "v10",
    ]
    assert max(map(parse_version, ["v9", "v10"])) == V((10,))


def test_next_version() -> None:
    assert parse_version("v3").next() == V((4,))
    assert str(parse_version("v9").next()) == "v10"
    assert str(parse_version("v1.2.3").next()) == "v1.2.4"
    assert str(parse_version("v1.2.9").next()) == "v1.2.10"


# -- tag names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("churn@v3", TagName("churn@v3", TagKind.REGISTER, "churn", version=V((3,)))),
        ("churn@v1.2.3", TagName("churn@v1.2.3", TagKind.REGISTER, "churn", version=V((1, 2, 3)))),
        ("churn@v3!", TagName("churn@v3!", TagKind.DEPRECATE, "churn", version=V((3,)))),
        ("churn@v1.2.3!", TagName("churn@v1.2.3!", TagKind.DEPRECATE, "churn", version=V((1, 2, 3)))),
        ("churn#prod#3", TagName("churn#prod#3", TagKind.ASSIGN, "churn", stage="prod", number=3)),
        ("churn#prod!#4", TagName("churn#prod!#4", TagKind.UNASSIGN, "churn", stage="prod", number=4)),
        ("churn#prod", TagName("churn#prod", TagKind.ASSIGN, "churn", stage="prod", number=0)),
        ("churn@deprecated", TagName("churn@deprecated", TagKind.DEPRECATE_MODEL, "churn")),
        (
            "fraud-v2.x#staging-eu#12",
            TagName("fraud-v2.x#staging-eu#12", TagKind.ASSIGN, "fraud-v2.x", stage="staging-eu", number=12),
        ),
        ("m@v10", TagName("m@v10", TagKind.REGISTER, "m", version=V((10,)))),
    ],
)
def test_parse_tag(tag: str, expected: TagName) -> None:
    assert parse_tag(tag) == expected


@pytest.mark.parametrize(
    "tag",
    [
        "v1.0",
        "release-2",
        "churn#prod!",
        "churn#prod#0",
        "churn#prod!#0",
        "churn@latest",
        "churn@3",
        "churn@v",
        "churn@v1.2",
        "churn@v1.2.3.4",
        "churn@v1!!",
        "churn@deprecated!",
        "churn@v1@v2",
        "churn#prod#1#2",
        "churn#prod#x",
        "churn#prod#1234567890",
        "churn#latest#1",
        "churn#v3#1",
        "churn#Prod#1",
        "Churn@v1",
        "a/b@v1",
        "team/churn#prod#1",
        "churn",
        "@v1",
        "#prod#1",
        "churn#",
        "churn@",
        "",
        "a..b@v1",
        "x" * 101 + "@v1",
    ],
)
def test_tags_outside_the_grammar_are_none(tag: str) -> None:
    assert parse_tag(tag) is None


def test_a_number_has_one_spelling() -> None:
    assert parse_tag("churn@v03") is None
    assert parse_tag("churn#prod#01") is None


@pytest.mark.parametrize("version", ["v1", "v3", "v10", "v1.2.3", "v0.0.1"])
def test_version_tag_builders_round_trip(version: str) -> None:
    v = parse_version(version)
    reg = registration_tag("churn", v)
    dep = deprecation_tag("churn", v)
    assert reg == f"churn@{version}"
    assert dep == f"churn@{version}!"
    assert parse_tag(reg) == TagName(reg, TagKind.REGISTER, "churn", version=v)
    assert parse_tag(dep) == TagName(dep, TagKind.DEPRECATE, "churn", version=v)


@pytest.mark.parametrize("number", [1, 2, 10, 999_999_999])
def test_stage_tag_builders_round_trip(number: int) -> None:
    up = stage_tag("fraud-v2", "production", number)
    down = stage_tag("fraud-v2", "production", number, unassign=True)
    assert up == f"fraud-v2#production#{number}"
    assert down == f"fraud-v2#production!#{number}"
    assert parse_tag(up) == TagName(up, TagKind.ASSIGN, "fraud-v2", stage="production", number=number)
    assert parse_tag(down) == TagName(down, TagKind.UNASSIGN, "fraud-v2", stage="production", number=number)


def test_builders_refuse_bad_parts() -> None:
    with pytest.raises(ValueError, match="count from 1"):
        stage_tag("churn", "prod", 0)
    with pytest.raises(InvalidNameError):
        stage_tag("churn", "latest", 1)
    with pytest.raises(InvalidNameError):
        stage_tag("Churn", "prod", 1)
    with pytest.raises(InvalidNameError):
        registration_tag("a b", V((1,)))
    with pytest.raises(InvalidNameError):
        deprecation_tag("../x", V((1,)))


# -- models:/ URIs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "shown"),
    [
        ("models:/churn/v3", ModelsURI("churn", "version", version=V((3,))), "models:/churn/v3"),
        ("models:/churn/3", ModelsURI("churn", "version", version=V((3,))), "models:/churn/v3"),
        ("models:/churn/v1.2.3", ModelsURI("churn", "version", version=V((1, 2, 3))), "models:/churn/v1.2.3"),
        ("models:/churn/1.2.3", ModelsURI("churn", "version", version=V((1, 2, 3))), "models:/churn/v1.2.3"),
        (
            "models:/churn/production",
            ModelsURI("churn", "stage", stage="production"),
            "models:/churn/production",
        ),
        ("models:/churn/latest", ModelsURI("churn", "latest"), "models:/churn/latest"),
        (
            "models:/churn@production",
            ModelsURI("churn", "stage", stage="production"),
            "models:/churn/production",
        ),
        ("models:/churn/v3/", ModelsURI("churn", "version", version=V((3,))), "models:/churn/v3"),
        (
            "models:/fraud-v2.x/staging",
            ModelsURI("fraud-v2.x", "stage", stage="staging"),
            "models:/fraud-v2.x/staging",
        ),
    ],
)
def test_parse_models_uri(text: str, expected: ModelsURI, shown: str) -> None:
    uri = parse_models_uri(text)
    assert uri == expected
    assert str(uri) == shown
    assert parse_models_uri(str(uri)) == uri


def test_models_uri_ref_is_what_the_user_wrote() -> None:
    assert parse_models_uri("models:/churn/3").ref == "v3"
    assert parse_models_uri("models:/churn@prod").ref == "prod"
    assert parse_models_uri("models:/churn/latest").ref == "latest"


URI_HINT = (
    "use models:/NAME/vN, models:/NAME/N, models:/NAME/STAGE, models:/NAME/latest or models:/NAME@STAGE"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models://x", "not a models:/ URI"),
        ("runs:/x", "not a models:/ URI"),
        ("churn/v3", "not a models:/ URI"),
        ("", "not a models:/ URI"),
        ("models:/", "names no version or stage"),
        ("models:/churn", "names no version or stage"),
        ("models:/churn/", "names no version or stage"),
        ("models:/churn@", "names no version or stage"),
        ("models:/churn/a/b", "names a whole model version"),
        ("models:/churn//v3", "names a whole model version"),
        ("models:/churn@prod/x", "names a whole model version"),
        ("models:/churn/v1.2", "invalid version or stage 'v1.2'"),
        ("models:/churn/deprecated", "invalid version or stage 'deprecated'"),
        ("models:/churn/Prod", "invalid version or stage 'Prod'"),
        ("models:/churn@latest", "invalid version or stage 'latest'"),
        ("models:/churn@v3", "invalid version or stage 'v3'"),
    ],
)
def test_bad_models_uris_show_the_accepted_forms(text: str, message: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_models_uri(text)
    assert info.value.hint == URI_HINT
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("models:/Churn/prod", "model names are lowercase"),
        ("models:/-x/v1", "model names are lowercase letters"),
        ("models:/../x", "model names are lowercase letters"),
        ("models:/a b/v1", "model names are lowercase letters"),
        ("models:/@prod", "model names are lowercase letters"),
    ],
)
def test_a_bad_name_in_a_models_uri_says_what_names_look_like(text: str, hint: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_models_uri(text)
    assert info.value.hint is not None and info.value.hint.startswith(hint)
