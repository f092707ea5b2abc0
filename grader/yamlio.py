"""YAML as users write it, read strictly: a key given twice in one mapping is an error, never "the last wins".

PyYAML's `safe_load` silently keeps the last of two equal keys, so a rubric with `weight: 1` and,
further down, `weight: 5` would be graded with 5 and nobody would know. `load` is `safe_load`
with a loader that refuses duplicates and says where both are.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 1_000_000  # far beyond any rubric or price table; a "billion laughs" document expands to 10^9


class DuplicateKeyError(ConstructorError):
    """A mapping names the same key twice (a `yaml.YAMLError`, with the place of the second one)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that rejects a key given twice in one mapping, and an alias bomb."""

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        node = super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        if node is not None:  # the size the node expands to, counted once per node (aliases share nodes)
            sizes = self.__dict__.setdefault("_sizes", {})
            if id(node) not in sizes:
                children = [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else \
                    node.value if isinstance(node, SequenceNode) else []
                sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            if sizes[id(node)] > MAX_NODES:
                raise ComposerError(None, None, f"the document expands to more than {MAX_NODES:,} values "
                                    "(aliases repeated inside aliases): refused", node.start_mark)
        return node

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
