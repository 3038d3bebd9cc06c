"""Read a YAML file keeping the line number of every mapping key and list item, in bounded time and memory.

Contract errors must say ``file:line``; PyYAML knows each node's position while
composing, so the constructors below attach it to the built containers.

A contract is a few levels deep and a few thousand values long, so the loader refuses what no
contract needs and what would exhaust the process (each a YamlSyntaxError with the line):
- files over ``files.MAX_FILE_BYTES`` (read through ``files.read_limited``) or not UTF-8;
- nesting deeper than ``MAX_DEPTH`` (PyYAML composes and constructs recursively: 5,000 levels
  would end in RecursionError), counted while composing, aliases included;
- aliases that repeat more than ``MAX_ALIAS_VALUES`` values in all ("billion laughs": nine
  aliases of nine aliases ... build a structure whose text is gigabytes), and an alias inside
  its own anchor (a cycle);
- a key given twice in one mapping (the later value would win silently). Keys brought in by a
  merge (``<<: *base``) may be overridden, as YAML intends.
Loading stays safe: SafeLoader, so no tag constructs a Python object.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.files import FileRefused, brief, decode_utf8, read_limited

MAX_DEPTH = 50  # levels of mappings and lists; contracts use four
MAX_ALIAS_VALUES = 10_000  # values repeated through aliases, over the whole file
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlSyntaxError(Exception):
    """The file is not a YAML document this loader accepts: ``line``, ``message``, ``expected``."""

    def __init__(self, line: int, message: str, expected: str = "YAML as in docs/contracts.md"):
        self.line = line
        self.message = message
        self.expected = expected
        super().__init__(f"line {line}: {message}")


class LineDict(dict):
    """A mapping that remembers where it and each of its keys start (1-based lines)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that remembers where it and each of its items start (1-based lines)."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader that bounds nesting and alias expansion while composing, and sees duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._alias_values = 0
        self._open_anchors: set[str] = set()
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels)
        self._own_keys: dict[int, int] = {}  # id(mapping node) -> keys written in it (not merged)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            return self._alias(parent, index, event)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlSyntaxError(
                event.start_mark.line + 1,
                f"nested too deep (more than {MAX_DEPTH} levels of mappings and lists)",
                "a flat contract as in docs/contracts.md",
            )
        if event.anchor is not None:
            self._open_anchors.add(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if event.anchor is not None:
                self._open_anchors.discard(event.anchor)

    def _alias(self, parent, index, event):
        line = event.start_mark.line + 1
        if event.anchor in self._open_anchors:
            raise YamlSyntaxError(line, "an alias inside its own anchor", "aliases of complete values only")
        node = super().compose_node(parent, index)
        values, levels = self._measure(node)
        self._alias_values += values
        if self._alias_values > MAX_ALIAS_VALUES:
            raise YamlSyntaxError(
                line,
                f"aliases repeat more than {MAX_ALIAS_VALUES} values",
                "anchors and aliases only for small shared lists (write the values out)",
            )
        if self._depth + levels > MAX_DEPTH:
            raise YamlSyntaxError(
                line,
                f"nested too deep through aliases (more than {MAX_DEPTH} levels)",
                "a flat contract as in docs/contracts.md",
            )
        return node

    def _measure(self, root) -> tuple[int, int]:
        """(values, levels) of a composed node, without recursion; each node is measured once."""
        stack = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in self._measured:
                continue
            if isinstance(node, yaml.ScalarNode):
                self._measured[id(node)] = (1, 1)
                continue
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            if children_done:
                sizes = [self._measured[id(c)] for c in children]
                self._measured[id(node)] = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in children if id(c) not in self._measured)
        return self._measured[id(root)]

    def flatten_mapping(self, node):
        # Remember the keys written in the mapping itself before merges are spliced in.
        if id(node) not in self._own_keys:
            self._own_keys[id(node)] = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
        super().flatten_mapping(node)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    loader.flatten_mapping(node)
    first_own = len(node.value) - loader._own_keys.get(id(node), len(node.value))
    own: set = set()
    for i, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (list, dict, set)):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if i >= first_own:
            if key in own:
                raise YamlSyntaxError(
                    key_node.start_mark.line + 1, f"duplicate key {brief(key)}", "each key once in a mapping"
                )
            own.add(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _timestamp(loader: _Loader, node: yaml.ScalarNode):
    # An impossible date (2025-13-01) stays text so the contract check can name its line.
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _int(loader: _Loader, node: yaml.ScalarNode):
    # An integer longer than Python converts (4,300 digits) stays text: the check reports it
    # out of range on its line instead of a ValueError.
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def load_yaml(path: Path):
    """The document in ``path`` built from LineDict / LineList; YamlSyntaxError with a line."""
    try:
        text = decode_utf8(read_limited(Path(path)))
    except FileRefused as exc:
        raise YamlSyntaxError(exc.line, exc.message, exc.expected) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(line, f"not valid YAML ({_short(exc.problem or exc.context)})") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        what = f"character #x{code:04x}"
        raise YamlSyntaxError(line, f"not valid YAML ({what}: {exc.reason})", "printable UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, f"not valid YAML ({_short(str(exc))})") from None


def _short(text: str | None) -> str:
    """One line of PyYAML's explanation, at most 120 characters (it may quote the file)."""
    first = (text or "").splitlines()[0] if text else ""
    return first if len(first) <= 120 else first[:120] + "..."
