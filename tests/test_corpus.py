"""The corpus of broken policies: each exits 2 with its expected located message,
in bounded time and memory, and never with a traceback.

Every case runs in-process through the real command (click's CliRunner,
exceptions not caught), and all of them once more in one new process, the
way pre-commit runs the hook, under an address-space limit and with its
peak memory measured. Cases too large to keep in the repository are
generated here.

Time is CPU time, never wall time: on a shared machine a wall-clock limit
measures the neighbours. It is bounded as a multiple of the CPU time that
validating the shipped policy takes in a new process, measured here, so that
a slower machine or a run under coverage moves both alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gacert.cli.main import cli

CORPUS = Path(__file__).resolve().parent / "corpus"
KINDS = ("yaml", "type", "key", "promql", "expr", "source", "ref", "bomb", "binary", "empty",
         "nesting")
GA_POLICY = CORPUS.parent.parent / "policies" / "ga.yaml"
# CPU time limits, in validations of the shipped policy by a new process (its
# imports included). Measured: a corpus case in-process costs at most 3 of
# them, the whole corpus 4, the largest generated case (a megabyte of checks
# with 9,000 schema errors) 21; a quadratic slip costs hundreds.
CASE_IN_PROCESS = 15
WHOLE_CORPUS = 20
GENERATED_CASE = 60
ADDRESS_SPACE = 512 * 1024 * 1024
MAX_RSS_BYTES = 256 * 1024 * 1024
_EXPECT = re.compile(r"^(\d+):(\d+): (\S+): (.+)$")


@dataclass(frozen=True)
class Case:
    path: Path
    line: int
    column: int
    where: str
    fragment: str

    @property
    def name(self) -> str:
        return self.path.stem

    def found_in(self, output: str, shown_as: str) -> bool:
        """Whether `output` has this case's problem, for the file named `shown_as`."""
        prefix = f"{shown_as}:{self.line}:{self.column}: {self.where}: "
        return any(line.startswith(prefix) and self.fragment in line[len(prefix):]
                   for line in output.splitlines())


def load_case(path: Path) -> Case:
    sidecar = path.with_suffix(".expect")
    if sidecar.exists():
        text = sidecar.read_text(encoding="utf-8").strip()
    else:
        first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
        assert first.startswith("# expect: "), f"{path.name} names no expectation"
        text = first.removeprefix("# expect: ")
    match = _EXPECT.match(text)
    assert match, f"{path.name}: expectation {text!r} is not LINE:COL: PATH: MESSAGE"
    line, column, where, fragment = match.groups()
    return Case(path, int(line), int(column), where, fragment)


CASES = [load_case(path) for path in sorted(CORPUS.glob("*.yaml"))]


def test_the_corpus_holds_at_least_40_cases_of_every_kind() -> None:
    assert len(CASES) >= 40
    kinds = {case.name.split("-")[0] for case in CASES}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_case_is_refused_with_its_located_message(case: Case, unit: float) -> None:
    # The CPU time of this thread alone: the fixtures' servers run in others.
    started = time.thread_time()
    result = CliRunner().invoke(cli, ["validate", str(case.path)], catch_exceptions=False)
    cpu = time.thread_time() - started
    assert result.exit_code == 2, result.output
    assert case.found_in(result.output, str(case.path)), result.output
    assert "Traceback" not in result.output
    assert cpu < CASE_IN_PROCESS * unit


# Sets the limit in the child itself: a preexec_fn is unsafe once a test has
# started threads (the Prometheus fixture does).
LAUNCHER = ("import resource, runpy, sys; "
            f"resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE})); "
            "sys.argv = ['gacert', *sys.argv[1:]]; runpy.run_module('gacert', run_name='__main__')")


@dataclass(frozen=True)
class Bounded:
    """How a `gacert validate` process ended and what it used."""

    code: int
    output: str  # stdout and stderr
    cpu_seconds: float  # user + system
    peak_rss: int  # bytes


def run_bounded(*args: str, cwd: Path) -> Bounded:
    """Run `gacert validate ARGS` in a new process under an address-space limit."""
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, "validate", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    with proc.stdout:
        output = proc.stdout.read().decode("utf-8", "replace")
    # wait4 reports the resources of this one child, not of every child so far.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kibibytes on Linux.
    return Bounded(proc.returncode, output, usage.ru_utime + usage.ru_stime,
                   usage.ru_maxrss * 1024)


@pytest.fixture(scope="module")
def unit() -> float:
    """CPU seconds a new process takes to validate the shipped policy (the least of 3)."""
    runs = [run_bounded(str(GA_POLICY), cwd=CORPUS) for _ in range(3)]
    assert [run.code for run in runs] == [0, 0, 0], runs[0].output
    return min(run.cpu_seconds for run in runs)


def test_the_whole_corpus_in_one_process(unit: float) -> None:
    names = [case.path.name for case in CASES]
    run = run_bounded(*names, cwd=CORPUS)
    assert run.code == 2
    missing = [case.name for case in CASES if not case.found_in(run.output, case.path.name)]
    assert missing == [], run.output
    assert "Traceback" not in run.output
    assert run.cpu_seconds < WHOLE_CORPUS * unit
    assert run.peak_rss < MAX_RSS_BYTES


# --- cases generated here: too large to keep ----------------------------------------------

HEAD = ("version: 1\nname: big\nsources:\n  prom: {type: prometheus, url: http://x:9090}\n"
        "checks:\n")


def many_checks(count: int) -> str:
    """`count` checks, every one with a broken query, an unknown name and an unknown source."""
    check = ("  - id: c{i}\n    source: prom{i}\n    query: sum(rate(x[5m])\n"
             "    fail: value > limit{i}\n")
    return HEAD + "".join(check.format(i=i) for i in range(count))


GENERATED = [
    pytest.param("oversize.yaml", "# " + "x" * (1024 * 1024) + "\n", "1:1: $: ",
                 "the limit for a policy is 1,048,576", id="a file over 1 MiB"),
    pytest.param("many-checks.yaml", many_checks(9000), "7:13: checks[0].source: ",
                 "unknown source 'prom0'", id="a megabyte of broken checks"),
    pytest.param("many-schema-errors.yaml", many_checks(9000).replace("    fail:", "    gatee: 1\n"
                 "    fail:"), "9:5: checks[0].gatee: ", "unknown key 'gatee'",
                 id="a megabyte of checks with schema errors"),
    pytest.param("late-syntax-error.yaml", many_checks(9000) + "  - [unclosed\n", "36007:1: $: ",
                 "YAML syntax:", id="a syntax error at the end of a megabyte"),
    pytest.param("deep-flow.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n", "1:",
                 "nesting", id="flow collections nested 100,000 deep"),
    pytest.param("deep-block.yaml", "".join("  " * i + f"k{i}:\n" for i in range(800)), "",
                 "nesting deeper than 64 levels", id="block mappings nested 800 deep"),
    pytest.param("long-query.yaml", HEAD + "  - {id: a, source: prom, query: 'sum("
                 + "x" * 900_000 + "', fail: value > 1}\n", "6:", "unclosed left parenthesis",
                 id="a query of 900 kB"),
    pytest.param("merge-bomb.yaml", "a: &a {" + ", ".join(f"k{i}: {i}" for i in range(500))
                 + "}\nb: &b {<<: [" + ", ".join(["*a"] * 450) + "]}\n"
                 + "c: {<<: [" + ", ".join(["*b"] * 450) + "]}\n", "",
                 "expands to more than 200,000 values", id="merge keys that multiply"),
]


@pytest.mark.parametrize(("name", "text", "where", "fragment"), GENERATED)
def test_generated_cases_are_refused_in_bounded_time_and_memory(
        tmp_path: Path, unit: float, name: str, text: str, where: str, fragment: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    run = run_bounded(name, cwd=tmp_path)
    assert run.code == 2, run.output[-2000:]
    assert any(line.startswith(f"{name}:{where}") and fragment in line
               for line in run.output.splitlines()), run.output[-2000:]
    assert "Traceback" not in run.output
    assert run.cpu_seconds < GENERATED_CASE * unit
    assert run.peak_rss < MAX_RSS_BYTES
