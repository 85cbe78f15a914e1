"""API keys and roles, request limits, masking, and the committed SDL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagtrail.api.auth import KeyRing, apikey_create_text, hash_key, key_from_headers, mint_key
from tagtrail.api.graphql.export import REPO_SCHEMA, schema_sdl
from tagtrail.config import Settings
from tagtrail.errors import ConfigError, Unauthorized
from tests.api.conftest import Api
from tests.api.factories import A, T

VIEWER, REVIEWER = "tt_viewer-secret", "tt_reviewer-secret"
KEYS = f"vera:viewer:{hash_key(VIEWER)},rob:reviewer:{hash_key(REVIEWER)}"
CONFIRM = """
mutation($input: TagDecisionInput!) {
  confirmTag(input: $input) {
    __typename ... on Forbidden { message requiredRole } ... on Unauthenticated { message }
    ... on TagDecision { event { actorId } }
  }
}"""
INPUT = {"input": {"assetId": "a", "attribute": "category", "expectedRevision": 1}}
WHOAMI = "{ whoami { name role } }"


@pytest.fixture
async def secured(make_api: Any) -> Api:
    api: Api = await make_api(api_keys=KEYS, dev=False)
    await api.create([A(id="a", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    return api


@pytest.mark.opensearch
async def test_roles(secured: Api) -> None:
    assert (await secured.data(WHOAMI, key=VIEWER))["whoami"] == {"name": "vera", "role": "viewer"}
    result = (await secured.data(CONFIRM, INPUT, key=VIEWER))["confirmTag"]
    assert result["__typename"] == "Forbidden"
    assert result["requiredRole"] == "reviewer"
    assert len(await secured.events("a")) == 1  # nothing written
    result = (await secured.data(CONFIRM, INPUT, key=REVIEWER))["confirmTag"]
    assert result == {"__typename": "TagDecision", "event": {"actorId": "rob"}}


@pytest.mark.opensearch
async def test_missing_or_unknown_key(secured: Api) -> None:
    for key in (None, "tt_wrong"):
        body = await secured(WHOAMI, key=key)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        result = (await secured.data(CONFIRM, INPUT, key=key))["confirmTag"]
        assert result["__typename"] == "Unauthenticated"
    assert len(await secured.events("a")) == 1
    assert (await secured.data("{ version }"))["version"]  # public


@pytest.mark.opensearch
async def test_depth_and_alias_limits(make_api: Any) -> None:
    api: Api = await make_api(max_query_depth=3)
    body = await api(
        "{ searchAssets { ... on AssetSearch { edges { node { tags { value } } } } } }"
    )
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = " ".join(f"v{i}: version" for i in range(40))
    body = await api(f"{{ {aliases} }}")
    assert "aliases" in body["errors"][0]["message"].lower()


@pytest.mark.opensearch
async def test_unexpected_errors_are_masked(api: Api, caplog: Any) -> None:
    await api.client.indices.delete(index=api.settings.index_name("assets") + "-v1")
    body = await api("{ searchAssets { ... on AssetSearch { totalCount } } }")
    error = body["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "unexpected error in searchAssets" in caplog.text


def test_keyring_sources(tmp_path: Path, settings: Settings) -> None:
    minted = mint_key("ana", "admin")
    toml = tmp_path / "keys.toml"
    toml.write_text(minted.toml_entry)
    ring = KeyRing(settings.with_changes(api_keys_file=str(toml), dev=True))
    assert not ring.open_dev_mode  # keys configured: dev no longer opens the door
    assert ring.authenticate(minted.key) is not None
    assert ring.authenticate(None) is None
    with pytest.raises(Unauthorized):
        ring.authenticate("tt_nope")
    as_json = tmp_path / "keys.json"
    as_json.write_text(json.dumps([{"name": "v", "role": "viewer", "sha256": hash_key("k")}]))
    found = KeyRing(settings.with_changes(api_keys_file=str(as_json))).authenticate("k")
    assert found is not None
    assert found.role == "viewer"
    assert KeyRing(settings.with_changes(dev=True)).authenticate(None) is not None  # dev admin
    with pytest.raises(ConfigError):
        KeyRing(settings.with_changes(api_keys="x:superuser:abc"))
    assert key_from_headers({"authorization": "Bearer abc"}) == "abc"
    assert key_from_headers({"X-API-Key": "xyz"}) == "xyz"
    text = apikey_create_text("ana", "admin")
    assert text.count("tt_") == 1
    assert 'role = "admin"' in text


def test_committed_schema_matches_code() -> None:
    assert REPO_SCHEMA.read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is stale: run `python -m tagtrail.api.graphql.export schema.graphql`"
    )


def test_head_step_filter_names_every_head_step() -> None:
    from typing import get_args

    from tagtrail.api.graphql.heads import HeadStepFilter
    from tagtrail.domain.cadence import HeadStep

    assert sorted(s.value for s in HeadStepFilter) == sorted(get_args(HeadStep))
