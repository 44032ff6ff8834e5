"""Is a YAML file a gacert policy? Decided by what is in it, not by its name.

A pre-commit hook sees every staged YAML file: Kubernetes manifests, Kyverno
or OPA policies, CI files. `gacert validate --skip-non-policies` checks those
that are gacert policies and says why it skipped each other one, so that
another tool's YAML never blocks a commit and a gacert policy is never
skipped in silence, wherever it lives.

A file is a gacert policy when
- a yaml-language-server modeline names the gacert policy schema
  (`policy.schema.json`, gacert's by its URL or by the file's content), or
- it has top-level `checks` and `sources` keys (a key misspelt by a letter or
  two still counts: a broken policy must be checked, not skipped).

The decision reads the text, not the parsed YAML, so that a policy with a
YAML syntax error is still recognised, and reported.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

_TOP_LEVEL_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:(?:\s|$)", re.MULTILINE)
_MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=(?P<schema>\S+)", re.MULTILINE)
# What the gacert policy schema says about itself, to recognise a local copy of it.
_SCHEMA_MARK = "gacert"
_SCHEMA_NAME = "policy.schema.json"
_SCHEMA_SNIFF_BYTES = 4096
# How alike a top-level key must be to count as a misspelt `checks` or `sources`.
_SPELLING_CUTOFF = 0.8


@dataclass(frozen=True)
class Detection:
    is_policy: bool
    why: str  # for a skipped file, the reason shown to the user


def detect_policy(text: str, path: str) -> Detection:
    """Whether `text` (the content of the file at `path`) is a gacert policy, and why."""
    modeline = _MODELINE.search(text)
    if modeline and _names_gacert_schema(modeline.group("schema"), path):
        return Detection(True, "its yaml-language-server modeline names the gacert schema")
    keys = {m.group("key") for m in _TOP_LEVEL_KEY.finditer(text)}
    if _has_key("checks", keys) and _has_key("sources", keys):
        return Detection(True, "it has top-level checks and sources")
    found = ", ".join(sorted(keys)[:6]) or "none"
    return Detection(False, "not a gacert policy: no top-level checks and sources keys "
                            f"(top-level keys: {found}) and no modeline naming the gacert schema")


def _has_key(name: str, keys: set[str]) -> bool:
    return name in keys or bool(difflib.get_close_matches(name, keys, n=1,
                                                          cutoff=_SPELLING_CUTOFF))


def _names_gacert_schema(schema: str, path: str) -> bool:
    """A schema URL or path that is gacert's policy schema (not its policy-tests
    schema): named policy.schema.json, and gacert's by its URL or its content."""
    if schema.rsplit("/", 1)[-1] != _SCHEMA_NAME:
        return False
    if _SCHEMA_MARK in schema.lower():
        return True
    if "://" in schema:
        return False
    local = os.path.join(os.path.dirname(path), schema)
    try:
        with open(local, encoding="utf-8", errors="replace") as handle:
            return _SCHEMA_MARK in handle.read(_SCHEMA_SNIFF_BYTES).lower()
    except OSError:
        return False
