"""YAML as users write it, read strictly: a key given twice in one mapping is an error, never "the last wins".

PyYAML's `safe_load` silently keeps the last of two equal keys, so a rubric with `weight: 1` and,
further down, `weight: 5` would be graded with 5 and nobody would know. `load` is `safe_load`
with a loader that refuses duplicates and says where both are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 1_000_000  # far beyond any rubric or price table; a "billion laughs" document expands to 10^9


class DuplicateKeyError(ConstructorError):
    """A mapping names the same key twice (a `yaml.YAMLError`, with the place of the second one)."""


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: 7x faster


class UniqueKeyLoader(_BASE):  # type: ignore[misc,valid-type]
    """A safe loader that rejects a key given twice in one mapping, and an alias bomb."""

    def construct_document(self, node: Node) -> Any:
        if expanded_size(node) > MAX_NODES:
            raise ComposerError(None, None, f"the document expands to more than {MAX_NODES:,} values "
                                "(aliases repeated inside aliases): refused", node.start_mark)
        return super().construct_document(node)  # type: ignore[no-untyped-call]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if first is not None:
                problem = f"the key {_written(key_node, key)!r} is given twice (lines {first} and {line}); keep one"
                raise DuplicateKeyError(f"while reading the mapping at line {node.start_mark.line + 1}",
                                        node.start_mark, problem, key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def expanded_size(root: Node) -> int:
    """How many values the document expands to, aliases counted as often as they are used (computed once
    per node, without recursion, so neither a bomb nor a deep document costs more than its own size)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, SequenceNode) else []


def _written(node: Node, key: Any) -> Any:
    """A key as the file writes it (`null`, not None)."""
    return node.value if isinstance(node, ScalarNode) else key


def load(text: str) -> Any:
    """`yaml.safe_load(text)`, except that a duplicate key raises `DuplicateKeyError` (a `yaml.YAMLError`, as
    is a document nested too deeply to read)."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to read") from None


def load_file(path: Path, *, what: str, option: str, fix: str) -> Any:
    """A user's YAML file, read as `load` reads text; a `GraderError` naming the file, `what` it is, the `option`
    that gave it and `fix` when it cannot be read or is not YAML."""
    from grader.errors import GraderError

    try:
        return load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise GraderError(f"cannot read the {what} ({reason})", path=path, where=option, fix=fix) from None
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises a bare ValueError for a date like 2001-13-01
        raise GraderError(f"the {what} is not valid YAML ({' '.join(str(exc).split())[:300]})", path=path,
                          where=option, fix=fix) from None
