"""How fast is `gacert validate` against check-jsonschema and the import floor?

Measured in one script, each command a new process as pre-commit starts it,
run in turns (so that a change in machine load hits all alike), with the
median of the repetitions reported:

- `gacert validate policies/ga.yaml`: schema, PromQL of every query,
  expressions, thresholds, references, durations;
- `check-jsonschema --schemafile schemas/policy.schema.json policies/ga.yaml`:
  the popular JSON Schema hook, which checks the schema only;
- `python -c "import yaml, jsonschema"`: the floor of any Python validator
  of YAML against a JSON Schema;
- the same two validators on a broken copy of the policy (an unknown key),
  the path on which gacert does import jsonschema to report the errors;
- the broken-policy corpus of tests/test_corpus.py, each generated case (up
  to a megabyte) and the whole corpus in one process: wall and CPU seconds,
  and the CPU time as the multiple of validating policies/ga.yaml that the
  test bounds (the test once held each case to 5 s of wall time).

Bytecode is compiled first, as any install does: an environment with
PYTHONDONTWRITEBYTECODE (some sandboxes set it) would otherwise compile
gacert's modules on every run, while site-packages' are compiled already.

Run: .venv/bin/python benchmarks/bench_validate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import test_corpus as corpus  # the corpus and its generated cases

ROOT = Path(__file__).resolve().parent.parent
POLICY = "policies/ga.yaml"
SCHEMA = "schemas/policy.schema.json"
BIN = Path(sys.executable).parent


def timed(command: list[str], expect: int) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(command)} exited {proc.returncode}, not {expect}:\n"
                         f"{proc.stdout.decode()}{proc.stderr.decode()}")
    return elapsed


def measure(commands: dict[str, tuple[list[str], int]], repeat: int) -> dict[str, float]:
    for command, expect in commands.values():  # warm-up: disk caches
        timed(command, expect)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, (command, expect) in commands.items():
            samples[name].append(timed(command, expect))
    return {name: statistics.median(values) for name, values in samples.items()}


def broken_copy(directory: Path) -> str:
    text = (ROOT / POLICY).read_text(encoding="utf-8")
    broken = directory / "broken.yaml"
    broken.write_text(text.replace("\nchecks:\n", "\nchecks:\n  - id: extra\n    sourse: x\n"
                                   "    pass: value > 0\n", 1), encoding="utf-8")
    return str(broken)


def corpus_run(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `gacert validate ARGS` as test_corpus runs it."""
    started = time.perf_counter()
    run = corpus.run_bounded(*args, cwd=cwd)
    return time.perf_counter() - started, run.cpu_seconds


def bench_corpus(repeat: int) -> None:
    runs: dict[str, tuple[list[str], Path]] = {
        "policies/ga.yaml (the unit)": ([str(ROOT / POLICY)], ROOT),
        "the whole corpus, one process": ([c.path.name for c in corpus.CASES], corpus.CORPUS)}
    with tempfile.TemporaryDirectory() as directory:
        for param in corpus.GENERATED:
            name, text = str(param.values[0]), str(param.values[1])
            Path(directory, name).write_text(text, encoding="utf-8")
            runs[str(param.id)] = ([name], Path(directory))
        figures = {label: [corpus_run(*run) for _ in range(repeat)]
                   for label, run in runs.items()}
    unit = statistics.median(cpu for _, cpu in figures["policies/ga.yaml (the unit)"])
    width = max(len(label) for label in figures)
    print(f"\ncorpus: median of {repeat} runs, new processes on {os.cpu_count()} CPUs")
    print(f"{'':<{width}}  {'wall s':>7} {'CPU s':>7} {'CPU / unit':>10}")
    for label, samples in figures.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        print(f"{label:<{width}}  {wall:7.2f} {cpu:7.2f} {cpu / unit:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--corpus-repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = args.repeat
    for package in ("gacert", "schemas", "report_templates"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    gacert = [str(BIN / "gacert"), "validate"]
    check_jsonschema = [str(BIN / "check-jsonschema"), "--schemafile", SCHEMA]
    with tempfile.TemporaryDirectory() as directory:
        broken = broken_copy(Path(directory))
        medians = measure({
            "gacert validate policies/ga.yaml": ([*gacert, POLICY], 0),
            "check-jsonschema --schemafile schemas/policy.schema.json policies/ga.yaml":
                ([*check_jsonschema, POLICY], 0),
            'python -c "import yaml, jsonschema"':
                ([sys.executable, "-c", "import yaml, jsonschema"], 0),
            "gacert validate broken.yaml": ([*gacert, broken], 2),
            "check-jsonschema ... broken.yaml": ([*check_jsonschema, broken], 1),
        }, repeat)
    report(medians, repeat)
    bench_corpus(args.corpus_repeat)


def report(medians: dict[str, float], repeat: int) -> None:
    names = list(medians)
    gacert, baseline, floor = (medians[n] for n in names[:3])
    width = max(len(name) for name in names)
    print(f"median of {repeat} runs each, new processes, {sys.platform}, "
          f"Python {sys.version.split()[0]}\n")
    for name, seconds in medians.items():
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms")
    print(f"\ngacert validate / check-jsonschema:  {gacert / baseline:.2f}")
    print(f"gacert validate / import floor:      {gacert / floor:.2f}")
    print(f"on the broken policy:                {medians[names[3]] / medians[names[4]]:.2f}")


if __name__ == "__main__":
    main()
