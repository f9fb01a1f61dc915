"""Safe YAML loading that remembers where every value came from, for file:line:column errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from playground.base.errors import SourceError

MAX_BYTES = 1_000_000
MAX_NODES = 50_000

Location = tuple[int, int]
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    path: Path
    locations: dict[PathKey, Location]
    key_locations: dict[PathKey, Location]

    def where(self, key: PathKey, at_key: bool = False) -> str:
        """file:line:column of the value at `key` (of the key itself with at_key), or of its nearest parent."""
        if at_key and (loc := self.key_locations.get(tuple(key))) is not None:
            return f"{self.path}:{loc[0]}:{loc[1]}"
        for end in range(len(key), -1, -1):
            if (loc := self.locations.get(tuple(key[:end]))) is not None:
                return f"{self.path}:{loc[0]}:{loc[1]}"
        return str(self.path)


def load_yaml(path: Path) -> YamlDocument:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise SourceError(f"{path}: file is {len(raw):,} bytes; profiles are limited to {MAX_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SourceError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML: {exc}") from None
    builder = _Builder(path)
    if node is None:
        return YamlDocument(None, path, builder.locations, builder.key_locations)
    return YamlDocument(builder.build(node, ()), path, builder.locations, builder.key_locations)


_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq",
                                                        "timestamp")}


class _Builder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.locations: dict[PathKey, Location] = {}
        self.key_locations: dict[PathKey, Location] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def _where(self, node: yaml.Node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def build(self, node: yaml.Node, key: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            # Aliases can expand a small file into billions of values ("billion laughs").
            raise SourceError(f"{self._where(node)}: too many values (over {MAX_NODES:,}); "
                              "is an alias expanding recursively?")
        self.locations.setdefault(key, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _PLAIN_TAGS:
            # Only plain YAML types: a `!!python/...` or custom tag is never constructed.
            raise SourceError(f"{self._where(node)}: tag {node.tag!r} is not allowed")
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise SourceError(f"{self._where(key_node)}: YAML merge keys (<<) are not supported")
                name = self._scalar(key_node)
                if not isinstance(name, (str, int)):
                    raise SourceError(f"{self._where(key_node)}: keys must be plain names")
                if name in result:
                    raise SourceError(f"{self._where(key_node)}: duplicate key {name!r}")
                self.key_locations[key + (name,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[name] = self.build(value_node, key + (name,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, key + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise SourceError(f"{self._where(node)}: expected a plain value here")
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise SourceError(f"{self._where(node)}: {exc.problem}") from None
