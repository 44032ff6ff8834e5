"""Safe YAML loading that remembers where every value came from.

PyYAML's `safe_load` forgets line numbers; validation errors must name
`file:line:col`, so this module composes the node tree (safe tags only) and
builds plain Python data from it, recording the position of every value and
every mapping key by its path in the document. It also refuses what a policy
never needs and an attacker would send: files over a size limit, documents
that expand to too many nodes through aliases ("billion laughs"), several
documents in one file, and duplicate keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from gacert.errors import Problem

MAX_FILE_BYTES = 1024 * 1024  # a real policy is a few KiB; 1 MiB is absurd already
MAX_NODES = 200_000  # values after alias expansion; ga.yaml has about 2,000

PathKey = tuple[str | int, ...]

# YAML 1.1 tags whose values JSON cannot hold (dates, binary, sets) are kept
# as the text the user wrote: a policy field that wants a string gets one.
_PLAIN_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Located:
    """A loaded document: plain data plus the position of each path in it."""

    data: Any
    file: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """The (line, column) of `path`, or of its nearest ancestor that has one."""
        table = self.key_positions if key else self.positions
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in table:
                return table[prefix]
            if key and prefix in self.positions:
                return self.positions[prefix]
        return (1, 1)

    def problem(self, path: PathKey, message: str, *, hint: str = "", key: bool = False,
                severity: str = "error") -> Problem:
        line, column = self.position(path, key=key)
        return Problem(self.file, line, column, format_path(path), message, hint, severity)


def format_path(path: PathKey) -> str:
    """`("checks", 2, "pass")` -> `checks[2].pass`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class YamlLoadError(Exception):
    """The file is not a loadable YAML document; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.format())


def load_yaml(raw: bytes, file: str) -> Located:
    """Parse one YAML document from `raw`, or raise YamlLoadError naming the place."""
    if len(raw) > MAX_FILE_BYTES:
        raise YamlLoadError(Problem(file, 1, 1, "", f"file is {len(raw):,} bytes; the limit "
                                    f"for a policy is {MAX_FILE_BYTES:,}"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise YamlLoadError(Problem(file, line, 1, "", message)) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise YamlLoadError(Problem(file, line, 1, "", "file contains a NUL byte; it is not text"))
    root = _compose(text, file)
    located = Located(data=None, file=file)
    located.data = _Builder(located).build(root, ())
    return located


def _compose(text: str, file: str) -> yaml.Node | None:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        if "expected a single document" in message:
            message = "the file holds several YAML documents; a policy is exactly one"
        raise YamlLoadError(Problem(file, line, column, "", f"YAML syntax: {message}")) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(Problem(file, 1, 1, "", f"YAML syntax: {exc}")) from None
    finally:
        loader.dispose()
    return root


class _Builder:
    """Turns a node tree into Python data, counting nodes to stop alias bombs."""

    def __init__(self, located: Located) -> None:
        self.located = located
        self.count = 0
        self.scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node | None, path: PathKey) -> Any:
        if node is None:
            return None
        self.count += 1
        if self.count > MAX_NODES:
            mark = node.start_mark
            raise YamlLoadError(Problem(
                self.located.file, mark.line + 1, mark.column + 1, format_path(path),
                f"document expands to more than {MAX_NODES:,} values (an alias bomb?)"))
        self.located.positions.setdefault(path, _position(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in _PLAIN_TAGS:
            return self.scalars.construct_object(node)
        return str(node.value)

    def _mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merge_nodes: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merge_nodes.append(value_node)
                continue
            key = self._key(key_node, path)
            if key in result:
                mark = key_node.start_mark
                raise YamlLoadError(Problem(
                    self.located.file, mark.line + 1, mark.column + 1,
                    format_path((*path, key)), f"duplicate key {key!r}"))
            self.located.key_positions[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        # Merge keys (`<<: *defaults`, or a list of them, earlier ones first) fill
        # in only what the mapping left unset; a merged mapping may merge too.
        for merge_node in merge_nodes:
            for source in self._merge_sources(merge_node):
                for key, value in self._mapping(source, path).items():
                    result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                mark = source.start_mark
                raise YamlLoadError(Problem(self.located.file, mark.line + 1, mark.column + 1,
                                            "", "a merge key (<<) needs a mapping"))
            self.count += len(source.value)  # merged values count towards the node limit
        return list(sources)

    def _key(self, key_node: yaml.Node, path: PathKey) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            mark = key_node.start_mark
            raise YamlLoadError(Problem(self.located.file, mark.line + 1, mark.column + 1,
                                        format_path(path), "a mapping key must be a plain value"))
        # Keys are names in a policy: `1: x` or `true: x` means the text the user typed.
        return str(key_node.value)


def _position(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)
