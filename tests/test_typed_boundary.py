"""What crosses from the use cases into the API is typed: no ``dict[str, Any]`` (or bare
``Any``) in the signatures of the use-case functions, the use-case classes' public methods
and the records the API uses, followed through every record (msgspec Struct) they hold,
field by field.

The names the API uses are found statically (its ``from tagtrail.usecases… import``
lines, the attributes it reads off imported use-case modules, and every use case the
composition root ``usecases/runtime.py`` builds); each is then inspected at run time with
its resolved type hints. Raw JSON that a record keeps on purpose is listed
in ``RAW_JSON`` with the reason, and nothing else may be loose.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

SRC = Path(__file__).resolve().parents[1] / "src" / "tagtrail"

#: (record, field) kept as JSON on purpose, with why.
RAW_JSON = {
    ("TagEvent", "evidence"): "the append-only log keeps evidence as written; domain.evidence "
    "reads each kind into its record",
}


def _used_names() -> set[tuple[str, str]]:
    """(use-case module, name) pairs the API imports or reads off an imported module."""
    used: set[tuple[str, str]] = set()
    parts = _runtime_parts()
    for path in (SRC / "api").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used |= _runtime_calls(tree, parts)
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "tagtrail.usecases"
            ):
                for alias in node.names:
                    module = f"{node.module}.{alias.name}"
                    if (
                        (SRC / module.removeprefix("tagtrail.").replace(".", "/"))
                        .with_suffix(".py")
                        .exists()
                    ):
                        aliases[alias.asname or alias.name] = module
                    else:
                        used.add((str(node.module), alias.name))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                used.add((aliases[node.value.id], node.attr))
    return used


def _runtime_parts() -> dict[str, tuple[str, str]]:
    """What ``Runtime.__init__`` builds, by attribute: ``review`` → (module, ``Review``)."""
    runtime = importlib.import_module("tagtrail.usecases.runtime")
    init = ast.parse(inspect.getsource(runtime.Runtime))
    parts: dict[str, tuple[str, str]] = {}
    for node in ast.walk(init):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        value = getattr(runtime, getattr(node.value.func, "id", ""), None)
        if isinstance(value, type) and value.__module__.startswith("tagtrail.usecases"):
            for target in node.targets:
                if isinstance(target, ast.Attribute):
                    parts[target.attr] = (value.__module__, value.__name__)
    return parts


def _runtime_calls(tree: ast.AST, parts: dict[str, tuple[str, str]]) -> set[tuple[str, str]]:
    """``runtime.<part>.<method>`` read anywhere in ``tree``: (module, ``Class.method``)."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)):
            continue
        owner = node.value.value
        named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if named == "runtime" and node.value.attr in parts:
            module, cls = parts[node.value.attr]
            found.add((module, f"{cls}.{node.attr}"))
    return found


def _checking_only() -> dict[str, Any]:
    """Names the use cases import only for type checking (heavy modules, loaded lazily)."""
    from tagtrail.tagging.pipeline import Tagger
    from tagtrail.vision.encode import ClipEncoder

    return {"Tagger": Tagger, "ClipEncoder": ClipEncoder}


def _methods(cls: type) -> Iterator[tuple[str, Any]]:
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_"):
            yield name, member


def _loose(hint: Any) -> bool:
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    return origin in (dict, typing.get_origin(typing.Mapping[str, int])) and (
        len(args) == 2 and args[1] is Any
    )


def _problems(hint: Any, where: str, seen: set[type]) -> Iterator[str]:
    """Loose parts of ``hint``, following records into their fields."""
    if _loose(hint):
        yield f"{where}: {hint!r}"
        return
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        if hint in seen:
            return
        seen.add(hint)
        for name, field_hint in typing.get_type_hints(hint).items():
            if (hint.__name__, name) not in RAW_JSON:
                yield from _problems(field_hint, f"{hint.__name__}.{name}", seen)
        return
    for arg in typing.get_args(hint):
        if not isinstance(arg, (type, types.GenericAlias, types.UnionType)) and arg is not Any:
            continue  # Literal values, Ellipsis
        yield from _problems(arg, where, seen)


def test_what_the_api_receives_from_the_use_cases_is_typed() -> None:
    problems: list[str] = []
    seen: set[type] = set()
    checked = 0
    for module_name, name in sorted(_used_names()):
        value: Any = importlib.import_module(module_name)
        for part in name.split("."):
            value = getattr(value, part)
        where = f"{module_name.removeprefix('tagtrail.')}.{name}"
        if inspect.isfunction(value):
            for arg, hint in typing.get_type_hints(value, localns=_checking_only()).items():
                problems.extend(_problems(hint, f"{where}({arg})", seen))
            checked += 1
        elif isinstance(value, type) and issubclass(value, msgspec.Struct):
            problems.extend(_problems(value, where, seen))
            checked += 1
        elif isinstance(value, type):  # a use case handed to a handler: all it offers
            for method_name, method in _methods(value):
                for arg, hint in typing.get_type_hints(method, localns=_checking_only()).items():
                    problems.extend(_problems(hint, f"{where}.{method_name}({arg})", seen))
                checked += 1
    assert checked > 40, f"only {checked} use-case names found: is the API scan broken?"
    assert not problems, "loose types cross into the API:\n" + "\n".join(sorted(problems))
