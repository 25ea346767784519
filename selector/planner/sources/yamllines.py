"""YAML documents as plain data plus the line of every value, for readers that cite lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from selector.loading import MAX_DEPTH
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


#: Values a document may expand to through aliases (a billion-laughs file expands without
#: end); a large Envoy configuration holds a few thousand.
MAX_NODES = 200_000
#: libyaml when PyYAML has it (it also caps nesting by itself, at 1,000 levels).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    """Builds :class:`Node` trees, refusing what would exhaust the stack or memory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.built = 0
        self.open: set[int] = set()

    def fail(self, node: yaml.Node, message: str) -> SourceError:
        return SourceError.single(message, file=self.path, line=node.start_mark.line + 1)

    def build(self, node: yaml.Node, depth: int = 0) -> Node:
        # The loader's bound (64): deeper than any proxy or Kubernetes file nests (Envoy's
        # deepest listener is about 15), and deeper documents would recurse out of stack.
        if depth > MAX_DEPTH:
            raise self.fail(node, f"invalid YAML: nested more than {MAX_DEPTH} levels deep")
        self.built += 1
        if self.built > MAX_NODES:
            raise self.fail(node, f"invalid YAML: expands to more than {MAX_NODES} values")
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return Node(line, scalar=str(node.value))
        # An alias to an enclosing node (``a: &x [*x]``) would recurse without end.
        if id(node) in self.open:
            raise self.fail(node, "invalid YAML: recursive alias: a node contains itself")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return Node(
                    line, mapping={str(k.value): self.build(v, depth + 1) for k, v in node.value}
                )
            return Node(line, items=tuple(self.build(v, depth + 1) for v in node.value))
        finally:
            self.open.discard(id(node))


def read_yaml_documents(path: str, text: str) -> list[Node]:
    """Every document in ``text``; a YAML error is a :class:`SourceError` at its line."""
    try:
        roots = [d for d in yaml.compose_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SourceError.single(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            file=path,
            line=mark.line + 1 if mark is not None else 0,
        ) from None
    except RecursionError:
        # Only without libyaml: PyYAML's own composer recurses per level.
        raise SourceError.single("invalid YAML: nested too deeply", file=path) from None
    builder = _Builder(path)
    return [builder.build(root) for root in roots]
