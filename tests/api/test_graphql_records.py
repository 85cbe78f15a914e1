"""GraphQL types generated from records: fields, nesting, derived fields, unions and the
mistakes the generator refuses (pure: a schema of toy records, no store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import pytest
import strawberry

from tagtrail.api.graphql.records import object_type


class Swatch(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    delta_e: float


class Finding(msgspec.Struct, kw_only=True, frozen=True):
    finding_id: str
    kind: Literal["colour", "pattern"]
    swatches: tuple[Swatch, ...]
    lab: tuple[float, float, float]
    note: str | None = None


class Missing(msgspec.Struct, kw_only=True, frozen=True):
    why: str


class Pair(msgspec.Struct, kw_only=True, frozen=True):
    pair: tuple[str, int]


def _label(root: Finding) -> str:
    return f"{root.kind}:{root.finding_id}"


if TYPE_CHECKING:
    SwatchType = Swatch
    FindingType = Finding
    MissingType = Missing
else:
    SwatchType = object_type(Swatch, fields={"delta_e": "CIEDE2000"})
    FindingType = object_type(
        Finding,
        name="FindingView",
        exclude={"lab"},
        names={"finding_id": "id"},
        nested={Swatch: SwatchType},
        retype={"finding_id": strawberry.ID},
        extra={"label": strawberry.field(resolver=_label)},
    )
    MissingType = object_type(Missing)

FOUND = Finding(
    finding_id="f1",
    kind="colour",
    swatches=(Swatch(name="navy", delta_e=1.5),),
    lab=(1.0, 2.0, 3.0),
)


@strawberry.type
class Query:
    @strawberry.field
    def finding(self) -> FindingType:
        return FOUND

    @strawberry.field
    def either(
        self, found: bool
    ) -> Annotated[FindingType | MissingType, strawberry.union("Either")]:
        return FOUND if found else Missing(why="gone")


SCHEMA = strawberry.Schema(query=Query)


def test_a_record_is_served_through_its_generated_type() -> None:
    result = SCHEMA.execute_sync("{ finding { id kind note label swatches { name deltaE } } }")
    assert result.errors is None
    assert result.data == {
        "finding": {
            "id": "f1",
            "kind": "colour",
            "note": None,
            "label": "colour:f1",
            "swatches": [{"name": "navy", "deltaE": 1.5}],
        }
    }


def test_the_schema_shows_the_record_as_declared() -> None:
    sdl = SCHEMA.as_str()
    assert "type FindingView {" in sdl
    for line in ("id: ID!\n", "kind: String!\n", "note: String\n", "swatches: [Swatch!]!\n"):
        assert line in sdl
    assert "lab:" not in sdl  # excluded
    assert '"""CIEDE2000"""' in sdl


def test_records_resolve_their_union_member() -> None:
    query = "query($f: Boolean!) { either(found: $f) { __typename ... on Missing { why } } }"
    assert SCHEMA.execute_sync(query, variable_values={"f": True}).data == {
        "either": {"__typename": "FindingView"}
    }
    assert SCHEMA.execute_sync(query, variable_values={"f": False}).data == {
        "either": {"__typename": "Missing", "why": "gone"}
    }


def test_mistakes_are_refused_when_the_type_is_made() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        object_type(Swatch, fields={"colour": "not a field"})
    with pytest.raises(TypeError, match="generate Swatch's GraphQL type first"):
        object_type(Finding, exclude={"lab"})
    with pytest.raises(TypeError, match="a sequence of one item type"):
        object_type(Pair)
    with pytest.raises(TypeError, match="'note' is a field of Finding"):
        object_type(
            Finding,
            exclude={"lab"},
            nested={Swatch: SwatchType},
            extra={"note": strawberry.field(resolver=_label)},
        )
