"""The package tree is the pipeline: data flows one way, and a stage uses only
what an earlier stage (or the shared base) publishes.

    base (errors, model, document, durations, timestamps, formatting, fsutil, redact)
      <- sources <- policy <- engine <- report <- package <- publish
      <- run (run, watch, watchstate) <- cli

Every import in gacert/, including those inside functions, is checked; the
demo (test data and servers) may use the base only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gacert"
STAGES = ("base", "sources", "policy", "engine", "report", "package", "publish", "run", "cli")
# Modules beside gacert/run.py that orchestrate runs too.
RUN_STAGE = {"watch", "watchstate"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in {"__main__"}:
        return "cli" if module.endswith("__main__") else "base"
    if parts[1] in STAGES or parts[1] == "demo":
        return parts[1]
    if parts[1] in RUN_STAGE:
        return "run"
    return "base"


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every gacert import in the file."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "gacert":
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names
                         if a.name.split(".")[0] == "gacert")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_stages_are_packages_named_after_the_pipeline() -> None:
    for stage in STAGES[1:]:
        assert (PACKAGE / stage / "__init__.py").is_file() or (PACKAGE / f"{stage}.py").is_file()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_later_stage(path: Path) -> None:
    importer = _stage(_module_name(path))
    for line, module, names in _imports(path):
        targets = [module] if not names else [
            f"{module}.{name}" if (PACKAGE.parent / module.replace(".", "/") / name).is_dir()
            or (PACKAGE.parent / module.replace(".", "/") / f"{name}.py").is_file()
            else module for name in names]
        for target in targets:
            imported = _stage(target)
            if importer == "demo":
                assert imported in {"base", "demo"}, f"{path}:{line} imports {target}"
                continue
            assert imported != "demo", f"{path}:{line}: only tests use the demo ({target})"
            assert STAGES.index(imported) <= STAGES.index(importer), (
                f"{path}:{line}: the {importer} stage imports {target}, a later stage")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_stage_reaches_into_another_stages_internals(path: Path) -> None:
    importer = _stage(_module_name(path))
    for line, module, names in _imports(path):
        if _stage(module) == importer:
            continue
        assert not any(part.startswith("_") for part in module.split(".")[1:]), \
            f"{path}:{line} imports the private module {module}"
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        assert not private, f"{path}:{line} imports private names {private} of {module}"


def test_the_plugin_api_is_explicit() -> None:
    import gacert.sources as api

    assert set(api.__all__) >= {"Source", "Query", "Series", "Fetched", "SourceError",
                                "ENTRY_POINT_GROUP"}
    for name in api.__all__:
        assert hasattr(api, name), name
