"""GraphQL object types generated from the records they show.

A record (a msgspec Struct of the domain, learning or a use case) is declared once, where it
is made; its GraphQL type is generated from it here rather than re-declared beside the
schema, so the two cannot drift apart. Resolvers return the record itself: each field
resolves by attribute, and the generated type claims the record's instances in unions.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Collection, Mapping
from typing import Any

import msgspec
import strawberry


def object_type(
    record: type[msgspec.Struct],
    *,
    name: str | None = None,
    description: str | None = None,
    fields: Mapping[str, str] | None = None,
    exclude: Collection[str] = (),
    names: Mapping[str, str] | None = None,
    nested: Mapping[type, type] | None = None,
    retype: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> type:
    """The GraphQL type of ``record``: its fields (less ``exclude``), with ``fields``'
    descriptions, named as ``names`` says (record field → GraphQL name: the schema keeps its
    names when a record's differ); a field holding another record needs that record's type in
    ``nested``; ``retype`` gives a field another GraphQL type (``strawberry.ID`` for an id
    kept as a string). ``extra`` adds fields the record derives (``strawberry.field`` resolvers
    taking the record as ``root``)."""
    described, renamed = dict(fields or {}), dict(names or {})
    own = {f.name for f in msgspec.structs.fields(record)}
    retyped = dict(retype or {})
    strangers = (set(described) | set(exclude) | set(renamed) | set(retyped)) - own
    if strangers:
        raise TypeError(f"{record.__name__} has no field {sorted(strangers)[0]!r}")
    shadowed = set(extra or {}) & (own - set(exclude))
    if shadowed:
        raise TypeError(f"{sorted(shadowed)[0]!r} is a field of {record.__name__}: exclude it")
    hints = typing.get_type_hints(record)
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {}
    for field in msgspec.structs.fields(record):
        if field.name in exclude:
            continue
        annotations[field.name] = retyped.get(field.name) or graphql_annotation(
            hints[field.name], nested or {}
        )
        namespace[field.name] = strawberry.field(
            name=renamed.get(field.name), description=described.get(field.name)
        )
    namespace |= dict(extra or {})
    namespace["__annotations__"] = annotations
    namespace["__module__"] = __name__
    namespace["is_type_of"] = classmethod(lambda cls, obj, _info: isinstance(obj, (cls, record)))
    generated = type(name or record.__name__, (), namespace)
    return strawberry.type(generated, description=description)


def graphql_annotation(hint: Any, nested: Mapping[type, type]) -> Any:
    """A record field's type as GraphQL shows it: tuples as lists, records as their types."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [graphql_annotation(a, nested) for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"{hint!r}: only X | None maps onto GraphQL")
        return inner[0] | None
    if origin in (tuple, list):
        items = {a for a in args if a is not Ellipsis}
        if len(items) != 1:
            raise TypeError(f"{hint!r}: a sequence of one item type maps onto GraphQL")
        return list[graphql_annotation(items.pop(), nested)]  # type: ignore[misc]
    if origin is typing.Literal:
        return type(args[0])
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        if hint not in nested:
            raise TypeError(f"generate {hint.__name__}'s GraphQL type first and pass it")
        return nested[hint]
    return hint
