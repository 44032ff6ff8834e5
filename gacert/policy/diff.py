"""What a policy change changes: params, sources, checks added, removed and changed.

`diff_policies(old, new)` compares two loaded policies field by field; it
reads no evidence and imports nothing beyond the policy stage, so that
`gacert diff` stays as fast as `gacert validate` in a pre-commit hook.

`Judging` is what decides a check's status once its evidence is known: its
rules, the values of the params they read, gate, no_data and the reduction
across series. The re-grade compares the judging a results document recorded
with the judging of an edited policy through the same `judging_changes`, so
that "what changed" reads alike in `gacert diff` and in a re-grade.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gacert.durations import format_duration
from gacert.model import Check, Expression, ParamValue, Policy, Waiver
from gacert.policy.variables import format_param, query_variable_names

__all__ = ["CheckDiff", "FieldChange", "Judging", "PolicyDiff", "check_judging",
           "diff_document", "diff_policies", "judging_changes", "one_line", "params_read",
           "rule_expressions"]

RULES = ("fail", "warn", "pass")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs; None on a side where the field (or the item) is absent."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class CheckDiff:
    id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class PolicyDiff:
    old: str  # the files compared, as given
    new: str
    policy: tuple[FieldChange, ...]  # name, title, window defaults, report
    params: tuple[FieldChange, ...]  # field = the param's name
    sources: tuple[FieldChange, ...]  # field = source id, or id.setting
    added_checks: tuple[str, ...]
    removed_checks: tuple[str, ...]
    changed_checks: tuple[CheckDiff, ...]

    @property
    def empty(self) -> bool:
        return not (self.policy or self.params or self.sources or self.added_checks
                    or self.removed_checks or self.changed_checks)


def diff_document(diff: PolicyDiff) -> dict[str, Any]:
    """The diff as JSON-able data (`gacert diff --format json` and the Markdown template)."""
    return {**asdict(diff), "empty": diff.empty}


@dataclass(frozen=True)
class Judging:
    """What decides a check's status besides its evidence, as comparable text."""

    rules: Mapping[str, str | None]  # fail / warn / pass -> expression text
    params: Mapping[str, ParamValue | None]  # params the rules read -> value (None: absent)
    gate: bool
    no_data: str
    series: str  # the reduction across series: each, max, min, ...


def params_read(expressions: Iterable[Expression], params: Iterable[str]) -> list[str]:
    """The params that `expressions` read, by name or as `params.name` / `params['name']`."""
    known = set(params)
    read: set[str] = set()
    for expression in expressions:
        read |= expression.names & known
        for node in ast.walk(expression.tree):
            if isinstance(node, ast.Attribute) and _is_params(node.value):
                read.add(node.attr)
            elif isinstance(node, ast.Subscript) and _is_params(node.value) \
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                read.add(node.slice.value)
    return sorted(read & known)


def _is_params(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "params"


def _rule_texts(check: Check) -> dict[str, str | None]:
    rules = {"fail": check.rules.fail, "warn": check.rules.warn, "pass": check.rules.pass_}
    return {name: one_line(e.text) if e else None for name, e in rules.items()}


def one_line(text: str) -> str:
    """A query or expression on one line, so that re-wrapping YAML is no change."""
    return " ".join(text.split())


def check_judging(check: Check, params: Mapping[str, ParamValue],
                  names: Iterable[str] = ()) -> Judging:
    """How `check` is judged with `params` (the resolved values), showing the params
    its rules read and `names` (those another version of the check reads)."""
    read = set(params_read(rule_expressions(check), params)) | set(names)
    return Judging(_rule_texts(check), {name: params.get(name) for name in sorted(read)},
                   check.gate, check.no_data, check.series)


def rule_expressions(check: Check) -> list[Expression]:
    return [expression for _, expression in check.rules.items()]


def judging_changes(old: Judging, new: Judging) -> tuple[FieldChange, ...]:
    """What differs between two judgings of one check, rules first."""
    changes = [FieldChange(f"rule {name}", one_line(old.rules.get(name) or "") or None,
                           one_line(new.rules.get(name) or "") or None)
               for name in RULES if one_line(old.rules.get(name) or "")
               != one_line(new.rules.get(name) or "")]
    for name in sorted(set(old.params) | set(new.params)):
        before, after = old.params.get(name), new.params.get(name)
        if before != after:
            changes.append(FieldChange(f"param {name}", _param_text(before),
                                       _param_text(after)))
    changes += _fields(("gate", _yes_no(old.gate), _yes_no(new.gate)),
                       ("no_data", old.no_data, new.no_data),
                       ("series", old.series, new.series))
    return tuple(changes)


def _param_text(value: ParamValue | None) -> str | None:
    return None if value is None else format_param(value)


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _fields(*triples: tuple[str, str | None, str | None]) -> list[FieldChange]:
    return [FieldChange(name, old, new) for name, old, new in triples if old != new]


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """Every difference between two policies that changes what is measured or judged."""
    old_checks = {c.id: c for c in old.checks}
    new_checks = {c.id: c for c in new.checks}
    old_params = {name: p.default for name, p in old.params.items()}
    new_params = {name: p.default for name, p in new.params.items()}
    changed = []
    for check_id, check in new_checks.items():
        if check_id in old_checks:
            changes = _check_changes(old_checks[check_id], check, old_params, new_params)
            if changes:
                changed.append(CheckDiff(check_id, changes))
    return PolicyDiff(
        old=old.path, new=new.path, policy=_policy_changes(old, new),
        params=_mapping_changes({k: format_param(v) for k, v in old_params.items()},
                                {k: format_param(v) for k, v in new_params.items()}),
        sources=_source_changes(old, new),
        added_checks=tuple(c for c in new_checks if c not in old_checks),
        removed_checks=tuple(c for c in old_checks if c not in new_checks),
        changed_checks=tuple(changed))


def _policy_changes(old: Policy, new: Policy) -> tuple[FieldChange, ...]:
    def window(policy: Policy) -> list[str]:
        w = policy.window
        return [format_duration(s) for s in (w.duration_seconds, w.step_seconds,
                                             w.scrape_interval_seconds)]

    def sections(policy: Policy) -> str:
        return "; ".join(f"{s.id}: {', '.join(s.checks)}" for s in policy.sections)

    old_window, new_window = window(old), window(new)
    return tuple(_fields(
        ("name", old.name, new.name), ("title", old.title, new.title),
        *((f"window.{name}", a, b) for name, a, b in zip(
            ("duration", "step", "scrape_interval"), old_window, new_window, strict=True)),
        ("report.title", old.report_title, new.report_title),
        ("report.sections", sections(old), sections(new)),
        ("report.templates", _json(old.report_templates), _json(new.report_templates)),
        ("score", _score_text(old), _score_text(new)),
        *_waiver_changes(old, new)))


def _score_text(policy: Policy) -> str | None:
    score = policy.score
    return None if score is None else f"pass at {score.pass_:g} %, warn at {score.warn:g} %"


def _waiver_changes(old: Policy, new: Policy) -> list[tuple[str, str | None, str | None]]:
    """`waivers.CHECK`: a waiver added (before None), removed (after None) or changed."""
    before = {w.check: _waiver_text(w) for w in old.waivers}
    after = {w.check: _waiver_text(w) for w in new.waivers}
    return [(f"waivers.{check}", before.get(check), after.get(check))
            for check in list(before) + [c for c in after if c not in before]]


def _waiver_text(waiver: Waiver) -> str:
    series = " or ".join(_json(dict(m)) for m in waiver.series) or "the whole check"
    ticket = f", ticket {waiver.ticket}" if waiver.ticket else ""
    return (f"{series} until {waiver.expires_text}, approved by {waiver.approver}{ticket}: "
            f"{one_line(waiver.reason)}")


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _mapping_changes(old: Mapping[str, str], new: Mapping[str, str]
                     ) -> tuple[FieldChange, ...]:
    """Keys added (old None), removed (new None) or with another value, in order."""
    keys = list(old) + [k for k in new if k not in old]
    return tuple(FieldChange(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k))


def _source_changes(old: Policy, new: Policy) -> tuple[FieldChange, ...]:
    changes: list[FieldChange] = []
    for sid in list(old.sources) + [s for s in new.sources if s not in old.sources]:
        before, after = old.sources.get(sid), new.sources.get(sid)
        if before is None or after is None:
            changes.append(FieldChange(sid, before.type if before else None,
                                       after.type if after else None))
            continue
        settings = _mapping_changes({k: _json(v) for k, v in before.settings.items()},
                                    {k: _json(v) for k, v in after.settings.items()})
        changes += [FieldChange(f"{sid}.{c.field}", c.old, c.new) for c in settings]
    return tuple(changes)


def _check_changes(old: Check, new: Check, old_params: Mapping[str, ParamValue],
                   new_params: Mapping[str, ParamValue]) -> tuple[FieldChange, ...]:
    """What measures the check differently (source, query and the params it reads,
    mode, over_time), how it is judged, and how it is shown."""
    measured = _fields(
        ("source", old.source, new.source), ("query", one_line(old.query), one_line(new.query)),
        ("mode", old.mode, new.mode), ("over_time", old.over_time, new.over_time))
    in_query = sorted(set(query_variable_names(new.query)) & set(new_params))
    measured += [FieldChange(f"param {name} (in the query)", _param_text(old_params.get(name)),
                             _param_text(new_params[name]))
                 for name in in_query if old_params.get(name) != new_params[name]]
    shown = _fields(("title", old.title, new.title), ("unit", old.unit, new.unit),
                    ("precision", str(old.precision), str(new.precision)),
                    ("section", old.section, new.section),
                    ("tags", ", ".join(old.tags), ", ".join(new.tags)),
                    ("weight", f"{old.weight:g}", f"{new.weight:g}"),
                    ("description", one_line(old.description), one_line(new.description)))
    # Both sides show every param either version reads, so that a rule moving from
    # one param to another shows both values.
    names = set(params_read(rule_expressions(old), old_params)) \
        | set(params_read(rule_expressions(new), new_params))
    judged = judging_changes(check_judging(old, old_params, names),
                             check_judging(new, new_params, names))
    return (*measured, *judged, *shown)
