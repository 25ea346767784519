"""YAML documents as plain data plus the line of every value, for readers that cite lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from selector.planner.sources.model import SourceError

__all__ = ["Node", "read_yaml_documents"]


@dataclass(frozen=True)
class Node:
    """A YAML value: a mapping, a list or a scalar string, with its line."""

    line: int
    scalar: str | None = None
    mapping: dict[str, Node] = field(default_factory=dict)
    items: tuple[Node, ...] = ()

    def get(self, *keys: str) -> Node | None:
        """The value at ``keys`` under this mapping, or ``None``."""
        node: Node | None = self
        for key in keys:
            node = node.mapping.get(key) if node is not None else None
        return node

    def text(self, *keys: str) -> str | None:
        """The scalar at ``keys``, or ``None``."""
        node = self.get(*keys)
        return node.scalar if node is not None else None

    def walk(self) -> list[Node]:
        """This node and every node under it, depth first."""
        nodes = [self]
        for child in (*self.mapping.values(), *self.items):
            nodes.extend(child.walk())
        return nodes


def _build(node: yaml.Node) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return Node(line, mapping={str(k.value): _build(v) for k, v in node.value})
    if isinstance(node, yaml.SequenceNode):
        return Node(line, items=tuple(_build(v) for v in node.value))
    return Node(line, scalar=str(node.value))


def read_yaml_documents(path: str, text: str) -> list[Node]:
    """Every document in ``text``; a YAML error is a :class:`SourceError` at its line."""
    try:
        roots = [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SourceError.single(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            file=path,
            line=mark.line + 1 if mark is not None else 0,
        ) from None
    return [_build(root) for root in roots]
