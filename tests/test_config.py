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
