"""gacert.policy.yamlsource: loading with positions, and refusing what a policy never needs."""

from __future__ import annotations

import time

import pytest

from gacert.errors import Problem
from gacert.policy.yamlsource import MAX_FILE_BYTES, Located, YamlLoadError, load_yaml
from gacert.sources.paths import format_path

FILE = "policy.yaml"


def load(text: str | bytes) -> Located:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return load_yaml(raw, FILE)


def refusal(text: str | bytes) -> Problem:
    with pytest.raises(YamlLoadError) as caught:
        load(text)
    return caught.value.problem


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic alias bomb: width ** levels strings from a few hundred bytes."""
    lines = ['a0: &a0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


# --- positions ---------------------------------------------------------------

NESTED = """\
version: 1
sources:
  prom:
    url: http://x
checks:
  - id: a
    pass: value > 1
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(("version",), (1, 10), id="a top-level value is at its line and column"),
        pytest.param(("sources", "prom"), (4, 5), id="a nested mapping starts at its first key"),
        pytest.param(("sources", "prom", "url"), (4, 10), id="a nested scalar value is located"),
        pytest.param(("checks", 0), (6, 5), id="a list item is located at its first key"),
        pytest.param(("checks", 0, "pass"), (7, 11), id="a value inside a list item is located"),
        pytest.param((), (1, 1), id="the document root is at 1:1"),
    ],
)
def test_value_positions_are_one_based(path: tuple[str | int, ...],
                                       expected: tuple[int, int]) -> None:
    assert load(NESTED).positions[path] == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(("version",), (1, 1), id="a top-level key is at column 1"),
        pytest.param(("sources", "prom"), (3, 3), id="a nested key is at its indentation"),
        pytest.param(("sources", "prom", "url"), (4, 5), id="a deeper key is located"),
        pytest.param(("checks", 0, "pass"), (7, 5), id="a key inside a list item is located"),
    ],
)
def test_key_positions_are_one_based(path: tuple[str | int, ...],
                                     expected: tuple[int, int]) -> None:
    assert load(NESTED).key_positions[path] == expected


def test_position_of_an_unknown_path_falls_back_to_the_nearest_ancestor() -> None:
    doc = load(NESTED)
    assert doc.position(("checks", 0, "warn")) == (6, 5)
    assert doc.position(("checks", 0, "warn"), key=True) == (6, 5)
    assert doc.position(("nothing", "here")) == (1, 1)


def test_problem_is_located_at_the_key_when_asked() -> None:
    problem = load(NESTED).problem(("sources", "prom", "url"), "bad url", key=True, hint="h")
    assert (problem.line, problem.column) == (4, 5)
    assert problem.path == "sources.prom.url"
    assert problem.format() == "policy.yaml:4:5: sources.prom.url: bad url (h)"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(("checks", 2, "pass"), "checks[2].pass", id="an index is written in brackets"),
        pytest.param(("sources", "prom", "url"), "sources.prom.url", id="keys are joined by dots"),
        pytest.param((0, 1), "[0][1]", id="a path of indices has no dots"),
        pytest.param((), "", id="the root path is empty"),
        pytest.param(("labels", "app.kubernetes.io/name"), 'labels."app.kubernetes.io/name"',
                     id="a key holding a dot is quoted"),
    ],
)
def test_format_path(path: tuple[str | int, ...], expected: str) -> None:
    assert format_path(path) == expected


# --- data ---------------------------------------------------------------------


def test_merge_key_fills_in_and_explicit_keys_win() -> None:
    doc = load("base: &base {timeout: 30s, retries: 3}\n"
               "prom:\n"
               "  <<: *base\n"
               "  retries: 5\n")
    assert doc.data["prom"] == {"retries": 5, "timeout": "30s"}
    # The explicit key keeps its own position; the merged one points at the anchor.
    assert doc.positions[("prom", "retries")] == (4, 12)
    assert doc.positions[("prom", "timeout")] == (1, 23)


def test_merge_key_with_a_list_takes_the_first_mapping_that_sets_a_key() -> None:
    doc = load("prom:\n  <<: [{a: 1}, {a: 2, b: 3}]\n  c: 4\n")
    assert doc.data["prom"] == {"a": 1, "b": 3, "c": 4}


def test_merge_of_a_mapping_that_itself_merges_is_flattened() -> None:
    doc = load("a: &a {x: 1}\n"
               "b: &b {<<: *a, y: 2}\n"
               "c: {<<: *b}\n")
    assert doc.data["c"] == {"x": 1, "y": 2}


def test_merge_key_on_a_scalar_is_refused() -> None:
    problem = refusal("prom:\n  <<: 1\n")
    assert "merge key (<<) needs a mapping" in problem.message
    assert (problem.line, problem.column) == (2, 7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("d: 2025-01-15\n", "2025-01-15", id="a date stays the string written"),
        pytest.param("d: 2025-01-15T00:00:00Z\n", "2025-01-15T00:00:00Z",
                     id="a timestamp stays the string written"),
        pytest.param("d: !!binary aGVsbG8=\n", "aGVsbG8=", id="binary stays the text written"),
        pytest.param("d: 1.5\n", 1.5, id="a float is a float"),
        pytest.param("d: 42\n", 42, id="an int is an int"),
        pytest.param("d: true\n", True, id="a boolean is a boolean"),
        pytest.param("d:\n", None, id="an empty value is None"),
        pytest.param("d: '42'\n", "42", id="a quoted number is a string"),
    ],
)
def test_scalar_types(text: str, expected: object) -> None:
    value = load(text).data["d"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="an empty file is None"),
        pytest.param("# only a comment\n", id="a file of comments is None"),
        pytest.param("---\n", id="a lone document marker is None"),
    ],
)
def test_empty_document_is_none(text: str) -> None:
    assert load(text).data is None


def test_keys_are_the_text_the_user_typed() -> None:
    assert load("1: a\ntrue: b\n").data == {"1": "a", "true": "b"}


# --- refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        pytest.param("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a'",
                     id="a duplicate key is refused with its line"),
        pytest.param("s:\n  x: 1\n  y: 2\n  x: 3\n", 4, 3, "duplicate key 'x'",
                     id="a nested duplicate key is refused at its column"),
        pytest.param("1: a\n'1': b\n", 2, 1, "duplicate key '1'",
                     id="a number key and the same quoted key are duplicates"),
        pytest.param("a: 1\n---\nb: 2\n", 2, 1, "several YAML documents",
                     id="several documents are refused"),
        pytest.param("a: b: c\n", 1, 5, "YAML syntax: mapping values are not allowed here",
                     id="a syntax error names its line and column"),
        pytest.param("a: [1, 2\nb: 3\n", 2, 2, "YAML syntax:",
                     id="an unclosed flow sequence is a syntax error on the next line"),
        pytest.param("a:\n\tb: 1\n", 2, 1, "YAML syntax:",
                     id="a tab indentation is a syntax error"),
        pytest.param("? [a, b]\n: 1\n", 1, 3, "a mapping key must be a plain value",
                     id="a sequence as a key is refused"),
    ],
)
def test_refused_documents_are_located(text: str, line: int, column: int,
                                       fragment: str) -> None:
    problem = refusal(text)
    assert fragment in problem.message
    assert (problem.file, problem.line, problem.column) == (FILE, line, column)


def test_duplicate_key_problem_names_the_path() -> None:
    problem = refusal("sources:\n  prom: {}\n  prom: {}\n")
    assert problem.path == "sources.prom"
    assert refusal("a: 1\na: 2\n").format() == "policy.yaml:2:1: a: duplicate key 'a'"
    with pytest.raises(YamlLoadError, match=r"^policy\.yaml:2:1: a: duplicate key"):
        load("a: 1\na: 2\n")


@pytest.mark.parametrize(
    ("raw", "line", "fragment"),
    [
        pytest.param(b"a: 1\nb: \xff\n", 2, "not UTF-8 text (byte 0xff at offset 8)",
                     id="a file that is not UTF-8 is refused at the bad byte's line"),
        pytest.param(b"a: \xc3\n", 1, "not UTF-8", id="a truncated UTF-8 sequence is refused"),
        pytest.param(b"a: 1\n\nb: \x00\n", 3, "NUL byte", id="a NUL byte is refused with its line"),
    ],
)
def test_binary_content_is_refused(raw: bytes, line: int, fragment: str) -> None:
    problem = refusal(raw)
    assert fragment in problem.message
    assert problem.line == line


def test_utf8_text_is_loaded() -> None:
    assert load("title: Zertifizierung für GA — ✓\n").data == {
        "title": "Zertifizierung für GA — ✓"}


def test_a_file_over_one_mebibyte_is_refused_quickly() -> None:
    raw = b"a: " + b"x" * MAX_FILE_BYTES + b"\n"
    started = time.thread_time()
    problem = refusal(raw)
    elapsed = time.thread_time() - started
    assert "the limit for a policy is 1,048,576" in problem.message
    assert f"file is {len(raw):,} bytes" in problem.message
    assert elapsed < 0.5


def test_a_file_of_exactly_the_limit_is_not_refused_for_size() -> None:
    raw = b"a: " + b"x" * (MAX_FILE_BYTES - 4) + b"\n"
    assert len(raw) == MAX_FILE_BYTES
    assert len(load(raw).data["a"]) == MAX_FILE_BYTES - 4


def test_billion_laughs_is_refused_fast() -> None:
    text = billion_laughs()
    assert len(text) < 1000
    started = time.thread_time()
    problem = refusal(text)
    cpu = time.thread_time() - started
    assert "expands to more than 200,000 values (an alias bomb?)" in problem.message
    assert problem.line >= 1
    # CPU time, not wall time: the machine may be shared. Refusing takes under a
    # second (2.5 s under coverage); the bomb expanded would be 387 million strings.
    assert cpu < 10.0


def test_a_small_alias_is_expanded() -> None:
    doc = load(billion_laughs(levels=2, width=3))
    assert doc.data["a1"] == [["lol"] * 3] * 3


# --- nesting, merge chains, characters, the two parsers ---------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("a: " + "[" * 100 + "]" * 100 + "\n", "nesting deeper than 64 levels",
                     id="flow collections nested past the limit"),
        pytest.param("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nesting",
                     id="flow collections nested past any parser's limit"),
        pytest.param("".join("  " * i + f"k{i}:\n" for i in range(100)),
                     "nesting deeper than 64 levels", id="block mappings nested past the limit"),
    ],
)
def test_deep_nesting_is_refused_quickly(text: str, fragment: str) -> None:
    started = time.thread_time()
    problem = refusal(text)
    assert fragment in problem.message
    assert time.thread_time() - started < 2.0


def test_nesting_within_the_limit_loads() -> None:
    assert load("a: " + "[" * 60 + "]" * 60 + "\n").data["a"] is not None


def test_a_chain_of_merge_keys_is_refused_at_the_mapping_that_starts_it() -> None:
    lines = ["m0: &m0 {x: 1}"] + [f"m{i}: &m{i} {{<<: *m{i - 1}}}" for i in range(1, 80)]
    problem = refusal("\n".join(lines) + "\n")
    assert problem.message == "merge keys (<<) chained more than 64 deep"
    assert (problem.line, problem.column, problem.path) == (66, 6, "m65")


def test_a_control_character_is_located() -> None:
    problem = refusal("a: 1\nb: x\x07\n")
    assert (problem.line, problem.column) == (2, 5)
    assert "unacceptable character #x0007" in problem.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("a: *nope\n", "found undefined alias 'nope'",
                     id="an undefined alias is named"),
        pytest.param("a:\n  b: 1\n c: 2\n", "expected <block end>, but found",
                     id="bad indentation says what was expected"),
    ],
)
def test_syntax_errors_have_the_explaining_message(text: str, fragment: str) -> None:
    # libyaml composes the document; its terse messages are replaced by the
    # pure-Python parser's, which name the alias and the tokens.
    assert fragment in refusal(text).message


def test_positions_count_characters_not_bytes() -> None:
    doc = load("t: 'éé'\nx: {é: 1, b: 2}\n")
    assert doc.positions[("x", "b")] == (2, 14)
    assert doc.key_positions[("x", "é")] == (2, 5)
