"""Safe YAML loading that remembers where every value came from.

PyYAML's `safe_load` forgets line numbers; validation errors must name
`file:line:col`, so this module composes the node tree (safe tags only) and
builds plain Python data from it, recording the position of every value and
every mapping key by its path in the document. It also refuses what a policy
never needs and an attacker would send: files over a size limit, documents
that expand to too many nodes through aliases ("billion laughs"), nesting
deeper than any policy needs, several documents in one file, and duplicate
keys.

The node tree is composed by libyaml when PyYAML has it (ten times faster
than the pure-Python parser, which matters in a pre-commit hook); a file
libyaml refuses is parsed again by the pure-Python parser, whose messages
name what it expected and found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from gacert.errors import Problem
from gacert.sources.paths import format_path

MAX_FILE_BYTES = 1024 * 1024  # a real policy is a few KiB; 1 MiB is absurd already
MAX_NODES = 200_000  # values after alias expansion; ga.yaml has about 2,000
MAX_DEPTH = 64  # nested collections; a policy needs 6
# Characters of text after alias expansion: a 500 KB string aliased into 1,000
# checks is 500 MB of policy. Without aliases a policy holds under MAX_FILE_BYTES.
MAX_EXPANDED_CHARS = 4 * 1024 * 1024

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
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_EXPLAIN_LIMIT = 128 * 1024  # characters


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


class YamlLoadError(Exception):
    """The file is not a loadable YAML document; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.format())


def load_yaml(raw: bytes, file: str, size: int | None = None) -> Located:
    """Parse one YAML document from `raw`, or raise YamlLoadError naming the place.

    `size` is the file's real size when `raw` holds only its start."""
    size = max(size or 0, len(raw))
    if size > MAX_FILE_BYTES:
        raise YamlLoadError(Problem(file, 1, 1, "", f"file is {size:,} bytes; the limit "
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
    try:
        return _single_node(_FAST_LOADER or yaml.SafeLoader, text)
    except (yaml.YAMLError, RecursionError) as exc:
        error: BaseException = exc
    # The pure-Python parser reads about 250 kB a second: worth it for the
    # message on a policy-sized file, not on a megabyte of something else.
    if _FAST_LOADER is not None and len(text) <= _EXPLAIN_LIMIT:
        try:
            _single_node(yaml.SafeLoader, text)
        except yaml.YAMLError as exc:
            error = exc
        except RecursionError:
            pass  # libyaml's own message ("exceeded maximum nesting depth") stands
    raise YamlLoadError(_syntax_problem(error, text, file)) from None


def _single_node(loader_class: type[yaml.SafeLoader], text: str) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _syntax_problem(error: BaseException, text: str, file: str) -> Problem:
    if isinstance(error, RecursionError):
        return Problem(file, 1, 1, "", f"YAML syntax: nesting deeper than {MAX_DEPTH} levels")
    if isinstance(error, yaml.reader.ReaderError):
        line, column = _line_column(text, error.position)
        return Problem(file, line, column, "", f"YAML syntax: unacceptable character "
                       f"#x{error.character:04x}: {error.reason}")
    if not isinstance(error, yaml.MarkedYAMLError):
        return Problem(file, 1, 1, "", f"YAML syntax: {error}")
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = " ".join(part for part in (error.context, error.problem) if part)
    if "expected a single document" in message:
        message = "the file holds several YAML documents; a policy is exactly one"
    return Problem(file, line, column, "", f"YAML syntax: {message}")


def _line_column(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


class _Builder:
    """Turns a node tree into Python data, counting nodes to stop alias bombs."""

    def __init__(self, located: Located) -> None:
        self.located = located
        self.count = 0
        self.chars = 0  # text after alias expansion
        self.scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node | None, path: PathKey) -> Any:
        if node is None:
            return None
        self.count += 1
        if self.count > MAX_NODES:
            raise self._refusal(node, path, f"document expands to more than {MAX_NODES:,} "
                                "values (an alias bomb?)")
        if len(path) > MAX_DEPTH:
            raise self._refusal(node, path, f"nesting deeper than {MAX_DEPTH} levels; "
                                "a policy needs a handful")
        self.located.positions.setdefault(path, _position(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _refusal(self, node: yaml.Node, path: PathKey, message: str,
                 where: tuple[int, int] | None = None) -> YamlLoadError:
        line, column = where or _position(node)
        shown = format_path(path[:4]) + ("..." if len(path) > 4 else "")
        return YamlLoadError(Problem(self.located.file, line, column, shown, message))

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        self.chars += len(node.value)
        if self.chars > MAX_EXPANDED_CHARS:
            raise self._refusal(node, path, f"document expands to more than "
                                f"{MAX_EXPANDED_CHARS:,} characters of text (a large value "
                                "repeated through aliases?)")
        if node.tag in _PLAIN_TAGS:
            return self.scalars.construct_object(node)
        return str(node.value)

    def _mapping(self, node: yaml.MappingNode, path: PathKey, merges: int = 0
                 ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merge_nodes: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merge_nodes.append(value_node)
                continue
            key = self._key(key_node, path)
            self.chars += len(key)
            if key in result:
                mark = key_node.start_mark
                raise YamlLoadError(Problem(
                    self.located.file, mark.line + 1, mark.column + 1,
                    format_path((*path, key)), f"duplicate key {key!r}"))
            self.located.key_positions[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key))
        # Merge keys (`<<: *defaults`, or a list of them, earlier ones first) fill
        # in only what the mapping left unset; a merged mapping may merge too.
        if merge_nodes and merges >= MAX_DEPTH:
            raise self._refusal(node, path, f"merge keys (<<) chained more than {MAX_DEPTH} deep",
                                where=self.located.positions.get(path))
        for merge_node in merge_nodes:
            for source in self._merge_sources(merge_node):
                for key, value in self._mapping(source, path, merges + 1).items():
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
