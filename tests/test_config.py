"""Settings from TAGTRAIL_* variables: the re-proposal minimum and the history page size."""

from __future__ import annotations

import pytest

from tagtrail.config import load_settings
from tagtrail.errors import ConfigError


def test_defaults_and_overrides() -> None:
    settings = load_settings(environ={})
    assert (settings.repropose_min_probability, settings.history_page_size) == (0.9, 1000)
    chosen = load_settings(
        environ={"TAGTRAIL_REPROPOSE_MIN_PROBABILITY": "0.97", "TAGTRAIL_HISTORY_PAGE_SIZE": "50"}
    )
    assert (chosen.repropose_min_probability, chosen.history_page_size) == (0.97, 50)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TAGTRAIL_REPROPOSE_MIN_PROBABILITY", "1.5"),
        ("TAGTRAIL_REPROPOSE_MIN_PROBABILITY", "-0.1"),
        ("TAGTRAIL_REPROPOSE_MIN_PROBABILITY", "often"),
        ("TAGTRAIL_HISTORY_PAGE_SIZE", "0"),
        ("TAGTRAIL_HISTORY_PAGE_SIZE", "20000"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={variable: value})


@pytest.mark.parametrize("prefix", ["Shop", "shop live", "-shop", "shop*", "a/b", ""])
def test_index_prefixes_opensearch_would_refuse_are_refused_at_start(prefix: str) -> None:
    with pytest.raises(ConfigError, match="TAGTRAIL_INDEX_PREFIX"):
        load_settings(environ={"TAGTRAIL_INDEX_PREFIX": prefix} if prefix else {}, index_prefix="")


def test_opensearch_url_lists_nodes_comma_separated() -> None:
    one = load_settings(environ={"TAGTRAIL_OPENSEARCH_URL": "http://10.0.0.5:9200"})
    assert one.opensearch_urls == ("http://10.0.0.5:9200",)
    several = load_settings(
        environ={"TAGTRAIL_OPENSEARCH_URL": "http://a:9200, https://b.example.com:9201/,http://c"}
    )
    assert several.opensearch_urls == ("http://a:9200", "https://b.example.com:9201/", "http://c")
    # What opensearch-py accepts: credentials in the URL, Docker service names.
    for url in ("https://user:secret@a:9200", "http://opensearch_node1:9200"):
        assert load_settings(environ={"TAGTRAIL_OPENSEARCH_URL": url}).opensearch_urls == (url,)
    embedded = load_settings(environ={"TAGTRAIL_EMBEDDED_PORT": "9280"})
    assert embedded.opensearch_urls == ("http://127.0.0.1:9280",)


@pytest.mark.parametrize(
    "value",
    ["localhost:9200", "http://a:9200,ftp://b:21", "http://a b:9200", ",", "http://", "http://a:x"],
)
def test_a_bad_opensearch_url_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="TAGTRAIL_OPENSEARCH_URL"):
        load_settings(environ={"TAGTRAIL_OPENSEARCH_URL": value})


def test_replicas_are_automatic_unless_set() -> None:
    assert load_settings(environ={}).index_replicas is None
    assert load_settings(environ={"TAGTRAIL_INDEX_REPLICAS": "2"}).index_replicas == 2
    with pytest.raises(ConfigError, match="TAGTRAIL_INDEX_REPLICAS"):
        load_settings(environ={"TAGTRAIL_INDEX_REPLICAS": "-1"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TAGTRAIL_REQUEST_TIMEOUT_S", "0"),
        ("TAGTRAIL_SHUTDOWN_GRACE_S", "-1"),
        ("TAGTRAIL_OPENSEARCH_POOL_SIZE", "0"),
        ("TAGTRAIL_OPENSEARCH_POOL_WAIT_S", "0"),
        ("TAGTRAIL_DEV_LISTEN_ANY", "perhaps"),  # not taken for TAGTRAIL_DEV's
    ],
)
def test_bounds_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable}:"):
        load_settings(environ={variable: value})


def test_one_request_may_not_hold_the_whole_pool() -> None:
    with pytest.raises(ConfigError, match="must not exceed TAGTRAIL_OPENSEARCH_POOL_SIZE"):
        load_settings(
            environ={
                "TAGTRAIL_OPENSEARCH_POOL_SIZE": "4",
                "TAGTRAIL_OPENSEARCH_CONNECTIONS_PER_REQUEST": "5",
            }
        )
