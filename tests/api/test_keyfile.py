"""The API key file is re-read when it changes; a half-written one keeps the last good ring.

Rotating keys means editing the file while the server runs. An editor (or a config push)
that has written half of it must not lock every caller out: the last good key ring stays in
force, the log says so once, and the finished file takes over as soon as it is complete.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tagtrail.api.auth import KeyRing, mint_key
from tagtrail.config import load_settings
from tagtrail.errors import Unauthorized
from tests.api.conftest import Api

WHOAMI = "{ whoami { name role } }"


def _ring(path: Path) -> KeyRing:
    return KeyRing(load_settings(environ={}, api_keys_file=str(path), dev=True))


def test_half_written_file_keeps_the_last_good_ring(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = mint_key("ana", "reviewer"), mint_key("bartholomew", "admin")
    path = tmp_path / "keys.toml"
    path.write_text(old.toml_entry)
    ring = _ring(path)
    assert ring.authenticate(old.key) is not None

    caplog.set_level(logging.INFO, logger="tagtrail.api.auth")
    good = old.toml_entry + new.toml_entry
    for cut in (len(good) - 5, len(good) - 30, len(good) - 80):
        path.write_text(good[:cut])  # truncated mid-entry: not TOML, or an entry half there
        assert ring.authenticate(old.key) is not None  # the last good ring still answers
        with pytest.raises(Unauthorized):
            ring.authenticate(new.key)
    path.write_text("")  # truncated to nothing, as writers do before they write
    assert ring.authenticate(old.key) is not None
    assert not ring.open_dev_mode  # an emptied file never opens dev mode's door
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "keeping the last good keys (1)" in warnings[0].getMessage()

    path.write_text(good)  # the finished file
    assert ring.authenticate(new.key) is not None
    assert ring.authenticate(old.key) is not None
    assert "reloaded: 2 keys" in caplog.text

    path.write_text(new.toml_entry)  # old key revoked
    with pytest.raises(Unauthorized):
        ring.authenticate(old.key)
    path.write_text("keys = []\n")  # no keys at all is explicit, and honoured
    ring.authenticate(None)
    assert ring.entries == []
    assert ring.open_dev_mode  # (this ring is in dev mode)


def test_unreadable_file_at_start_up_is_a_config_error(tmp_path: Path) -> None:
    from tagtrail.errors import ConfigError

    broken = tmp_path / "keys.toml"
    broken.write_text('[[keys]]\nname = "a"\nrole = "viewer"\nsha256 = "ab')
    with pytest.raises(ConfigError, match=r"keys\.toml"):
        _ring(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        _ring(tmp_path / "missing.toml")


@pytest.mark.opensearch
async def test_rotation_over_http(make_api: Any, tmp_path: Path) -> None:
    old, new = mint_key("ana", "viewer"), mint_key("bo", "viewer")
    path = tmp_path / "keys.toml"
    path.write_text(old.toml_entry)
    api: Api = await make_api(api_keys_file=str(path), dev=False)
    assert (await api.data(WHOAMI, key=old.key))["whoami"]["name"] == "ana"
    path.write_text(new.toml_entry[:-10])  # half-written
    assert (await api.data(WHOAMI, key=old.key))["whoami"]["name"] == "ana"
    unknown = await api(WHOAMI, key=new.key)
    assert unknown["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    path.write_text(new.toml_entry)
    assert (await api.data(WHOAMI, key=new.key))["whoami"]["name"] == "bo"
    gone = await api(WHOAMI, key=old.key)
    assert gone["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
