"""A fast yes-or-no JSON Schema check, for the common case of a valid policy.

`gacert validate` runs in pre-commit on every commit, and importing the
`jsonschema` package costs about 60 ms, more than loading and checking a
policy. Most files a hook sees are valid, so validation first asks this
small interpreter of the keywords the policy schema uses whether a document
is valid. Only a "no" or a "cannot tell" brings in jsonschema, whose
complete, located list of errors is what users read; so this module never
produces a message, and jsonschema stays the reference.

Soundness is the rule: `is_valid` returns True only when jsonschema
(Draft 2020-12, no format checker, as `gacert.policy.load` uses it) would find
no error. A keyword it does not implement, a `$ref` it cannot resolve
locally, or a case it does not handle the way jsonschema does makes it
answer None ("cannot tell"), never True.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

# Keywords that never make a document invalid. `format` is an annotation in
# Draft 2020-12 unless a format checker is given, and gacert gives none.
ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "$defs", "$anchor", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", "format", "patternErrorMessage",
    "markdownDescription", "then", "else",
})
# More items than this in `uniqueItems` lists of mappings or lists: leave them to jsonschema.
_MAX_PAIRWISE = 200


class _CannotTell(Exception):
    """The schema uses something this module does not implement."""


def is_valid(schema: Mapping[str, Any], instance: Any) -> bool | None:
    """True if `instance` is valid against `schema`, False if not, None if unsure."""
    try:
        return _Checker(schema).valid(schema, instance)
    except (_CannotTell, RecursionError):
        return None


def unsupported_keywords(schema: Any) -> set[str]:
    """Every keyword in `schema` (at any depth) that this module cannot check."""
    found: set[str] = set()
    if isinstance(schema, Mapping):
        for keyword, value in schema.items():
            if keyword not in ANNOTATIONS and keyword not in _KEYWORDS:
                found.add(keyword)
            found |= _subschema_keywords(keyword, value)
    return found


def _subschema_keywords(keyword: str, value: Any) -> set[str]:
    if keyword in ("properties", "$defs", "patternProperties"):
        return {k for sub in value.values() for k in unsupported_keywords(sub)}
    if keyword in ("anyOf", "allOf", "oneOf"):
        return {k for sub in value for k in unsupported_keywords(sub)}
    if keyword in ("items", "additionalProperties", "propertyNames", "not", "if", "then",
                   "else"):
        return unsupported_keywords(value)
    return set()


class _Checker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def valid(self, schema: Any, instance: Any) -> bool:
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, Mapping):
            raise _CannotTell("a schema that is not a mapping")
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS:
                continue
            check = _KEYWORDS.get(keyword)
            if check is None:
                raise _CannotTell(keyword)
            if not check(self, value, instance, schema):
                return False
        return True

    def resolve(self, reference: str) -> Any:
        if not reference.startswith("#"):
            raise _CannotTell(f"$ref {reference}")
        target: Any = self.root
        for part in reference[1:].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise _CannotTell(f"$ref {reference}")
            target = target[key]
        return target


# --- JSON data model, as jsonschema sees Python values -----------------------


def _is_type(instance: Any, name: str) -> bool:
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if isinstance(instance, bool):
        return False
    if name == "number":
        return isinstance(instance, int | float)
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float)
                                             and instance.is_integer())
    raise _CannotTell(f"type {name}")


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: true is not 1, but 1 is 1.0."""
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict | list) or isinstance(two, dict | list):
        return False
    return bool(one == two)


def _unique(items: list[Any]) -> bool:
    if all(isinstance(item, str | int | float | None) for item in items):
        # Tag booleans so that True and 1 stay apart while 1 and 1.0 meet.
        keys = [(type(item) is bool, item) for item in items]
        return len(set(keys)) == len(keys)
    if len(items) > _MAX_PAIRWISE:
        raise _CannotTell("uniqueItems over a long list of collections")
    return not any(_equal(items[i], items[j])
                   for i in range(len(items)) for j in range(i + 1, len(items)))


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


# --- keywords: each (checker, keyword value, instance, whole schema) -> valid ---

Keyword = Callable[[_Checker, Any, Any, Mapping[str, Any]], bool]


def _type(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    names = value if isinstance(value, list) else [value]
    return any(_is_type(instance, name) for name in names)


def _properties(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(checker.valid(sub, instance[name]) for name, sub in value.items()
               if name in instance)


def _pattern_properties(checker: _Checker, value: Any, instance: Any,
                        _: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(checker.valid(sub, item) for pattern, sub in value.items()
               for key, item in instance.items() if _pattern(pattern).search(key))


def _additional_properties(checker: _Checker, value: Any, instance: Any,
                           schema: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    declared = schema.get("properties", {})
    patterns = [_pattern(p) for p in schema.get("patternProperties", {})]
    extra = [key for key in instance
             if key not in declared and not any(p.search(key) for p in patterns)]
    return all(checker.valid(value, instance[key]) for key in extra)


def _property_names(checker: _Checker, value: Any, instance: Any,
                    _: Mapping[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(checker.valid(value, key) for key in instance)


def _required(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(name in instance for name in value)


def _dependent_required(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(need in instance for name, needs in value.items() if name in instance
               for need in needs)


def _items(checker: _Checker, value: Any, instance: Any, schema: Mapping[str, Any]) -> bool:
    if "prefixItems" in schema:
        raise _CannotTell("prefixItems")
    return not isinstance(instance, list) or all(checker.valid(value, item) for item in instance)


def _sized(kind: str, compare: Callable[[int, int], bool]) -> Keyword:
    def check(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
        return not _is_type(instance, kind) or compare(len(instance), value)
    return check


def _bound(compare: Callable[[Any, Any], bool]) -> Keyword:
    def check(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
        return not _is_type(instance, "number") or compare(instance, value)
    return check


def _pattern_keyword(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    return not isinstance(instance, str) or _pattern(value).search(instance) is not None


def _enum(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    return any(_equal(instance, choice) for choice in value)


def _const(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    return _equal(instance, value)


def _unique_items(_: _Checker, value: Any, instance: Any, __: Mapping[str, Any]) -> bool:
    return not value or not isinstance(instance, list) or _unique(instance)


def _ref(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    return checker.valid(checker.resolve(value), instance)


def _any_of(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    return any(checker.valid(sub, instance) for sub in value)


def _all_of(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    return all(checker.valid(sub, instance) for sub in value)


def _one_of(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    return sum(checker.valid(sub, instance) for sub in value) == 1


def _not(checker: _Checker, value: Any, instance: Any, _: Mapping[str, Any]) -> bool:
    return not checker.valid(value, instance)


def _if(checker: _Checker, value: Any, instance: Any, schema: Mapping[str, Any]) -> bool:
    branch = "then" if checker.valid(value, instance) else "else"
    return checker.valid(schema.get(branch, True), instance)


_KEYWORDS: dict[str, Keyword] = {
    "type": _type,
    "properties": _properties,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "propertyNames": _property_names,
    "required": _required,
    "dependentRequired": _dependent_required,
    "minProperties": _sized("object", lambda n, bound: n >= bound),
    "maxProperties": _sized("object", lambda n, bound: n <= bound),
    "items": _items,
    "minItems": _sized("array", lambda n, bound: n >= bound),
    "maxItems": _sized("array", lambda n, bound: n <= bound),
    "uniqueItems": _unique_items,
    "minLength": _sized("string", lambda n, bound: n >= bound),
    "maxLength": _sized("string", lambda n, bound: n <= bound),
    "pattern": _pattern_keyword,
    # Written as jsonschema writes them, so that NaN passes each as it does there.
    "minimum": _bound(lambda x, bound: not x < bound),
    "maximum": _bound(lambda x, bound: not x > bound),
    "exclusiveMinimum": _bound(lambda x, bound: not x <= bound),
    "exclusiveMaximum": _bound(lambda x, bound: not x >= bound),
    "enum": _enum,
    "const": _const,
    "$ref": _ref,
    "anyOf": _any_of,
    "allOf": _all_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _if,
}
