"""API keys and roles.

Keys are configured without code changes, from either or both of:

* a file at ``TAGTRAIL_API_KEYS_FILE`` (``.toml``, ``.json``, ``.yaml``/``.yml``) holding
  ``keys = [{name, role, sha256}, ...]`` (a bare JSON/YAML list works too);
* ``TAGTRAIL_API_KEYS="name:role:sha256hex,name2:role2:sha256hex"``.

Only the SHA-256 of a key is ever stored; requests are matched with
:func:`hmac.compare_digest` against every configured hash, so timing reveals nothing about
which prefix matched. Keys travel in ``Authorization: Bearer <key>`` or ``X-API-Key``.

When ``TAGTRAIL_DEV`` is true *and no key is configured*, every request acts as the admin
principal ``dev`` — convenient locally, and impossible to hit by accident in production,
where an empty key set means every protected operation is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, get_args

import msgspec

from tagtrail.config import Settings
from tagtrail.errors import ConfigError, Forbidden, Unauthorized

log = logging.getLogger(__name__)
Role = Literal["viewer", "reviewer", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_RANK: Final[dict[str, int]] = {role: rank for rank, role in enumerate(ROLES)}
KEY_PREFIX: Final = "tt_"


class Principal(msgspec.Struct, kw_only=True, frozen=True):
    """Who is calling: the key's name (the audit trail's actor id) and its role."""

    name: str
    role: Role

    def allows(self, required: Role) -> bool:
        return _RANK[self.role] >= _RANK[required]


DEV_PRINCIPAL: Final = Principal(name="dev", role="admin")


class KeyEntry(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    role: Role
    sha256: str


class _KeyFile(msgspec.Struct, kw_only=True):
    keys: list[KeyEntry] = []


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_entry(entry: KeyEntry, where: str) -> KeyEntry:
    digest = entry.sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(f"{where}: key {entry.name!r}: sha256 must be 64 hex characters")
    return msgspec.structs.replace(entry, sha256=digest)


def _parse_file(path: Path, *, allow_empty: bool = True) -> list[KeyEntry]:
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"TAGTRAIL_API_KEYS_FILE: cannot read {path}: {exc}") from exc
    if not allow_empty and not raw_bytes.strip():
        raise ConfigError(f"TAGTRAIL_API_KEYS_FILE {path} is empty (being rewritten?)")
    suffix = path.suffix.lower()
    try:
        data: Any
        if suffix == ".toml":
            data = tomllib.loads(raw_bytes.decode("utf-8"))
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(raw_bytes)
        else:
            data = json.loads(raw_bytes)
        if isinstance(data, list):
            data = {"keys": data}
        parsed = msgspec.convert(data or {}, _KeyFile)
    except (ValueError, msgspec.ValidationError) as exc:  # TOML/JSON/YAML errors are ValueErrors
        raise ConfigError(f"TAGTRAIL_API_KEYS_FILE {path}: {exc}") from exc
    return [_check_entry(e, str(path)) for e in parsed.keys]


def _parse_inline(spec: str) -> list[KeyEntry]:
    entries = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        parts = item.split(":")
        if len(parts) != 3 or parts[1] not in ROLES:
            raise ConfigError(
                f"TAGTRAIL_API_KEYS: expected name:role:sha256 with role one of "
                f"{', '.join(ROLES)}, got {item!r}"
            )
        entry = KeyEntry(name=parts[0], role=parts[1], sha256=parts[2])
        entries.append(_check_entry(entry, "TAGTRAIL_API_KEYS"))
    return entries


_Stamp = tuple[int, int, int, int]  # inode, mtime_ns, ctime_ns, size


class KeyRing:
    """The configured keys; reloads the key file when it changes (no restart to rotate)."""

    def __init__(self, settings: Settings) -> None:
        self.dev = settings.dev
        self._inline = _parse_inline(settings.api_keys) if settings.api_keys else []
        self._path = Path(settings.api_keys_file) if settings.api_keys_file else None
        self._file_entries: list[KeyEntry] = []
        self._stamp: _Stamp | None = None  # of the version loaded
        self._failed: _Stamp | None = None  # of a version that would not load
        self._warned = False
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        """Re-read the key file when it changed. A file that cannot be read or parsed (an
        editor half-way through writing it) keeps the last good key ring, with one warning;
        only at start-up, with no good ring yet, is it an error.

        Changes are noticed by inode, times *and* size: a rewrite within the file system's
        timestamp granularity still changes the size (as a half-written file does), and an
        atomic replace (write elsewhere, rename over) the inode.
        An emptied file is taken for half-written too — writers truncate before they write,
        and an empty ring would lock every caller out (or, in dev mode, let everyone in);
        revoking every key is an explicit ``keys = []``.
        """
        if self._path is None:
            return
        try:
            st = self._path.stat()
        except OSError as exc:
            self._keep_last(ConfigError(f"TAGTRAIL_API_KEYS_FILE: cannot read {self._path}: {exc}"))
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
        if stamp in (self._stamp, self._failed):
            return  # unchanged, or the same unusable version: not parsed again per request
        try:
            entries = _parse_file(self._path, allow_empty=self._stamp is None)
        except ConfigError as exc:
            self._keep_last(exc, stamp)
            return
        if self._warned:
            log.info("API key file %s reloaded: %d keys", self._path, len(entries))
        self._file_entries, self._stamp = entries, stamp
        self._failed, self._warned = None, False

    def _keep_last(self, exc: ConfigError, stamp: _Stamp | None = None) -> None:
        if self._stamp is None:
            raise exc  # start-up: there is no good ring to keep
        self._failed = stamp
        if not self._warned:
            self._warned = True
            log.warning(
                "API key file not reloaded; keeping the last good keys (%d) until it is usable: %s",
                len(self._file_entries),
                exc.message,
            )

    @property
    def entries(self) -> list[KeyEntry]:
        return [*self._inline, *self._file_entries]

    @property
    def open_dev_mode(self) -> bool:
        """Dev mode with no keys at all: everyone is the ``dev`` admin."""
        return self.dev and not self.entries

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal for ``key``; None when no key was sent; Unauthorized when unknown."""
        self._reload_if_changed()
        if self.open_dev_mode:
            return DEV_PRINCIPAL
        if not key:
            return None
        digest = hash_key(key)
        found: KeyEntry | None = None
        for entry in self.entries:  # no early exit: constant work whatever matches
            if hmac.compare_digest(digest, entry.sha256):
                found = entry
        if found is None:
            raise Unauthorized("unknown API key")
        return Principal(name=found.name, role=found.role)


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer …`` or ``X-API-Key`` (header names any case)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    auth = lowered.get("authorization", "").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return lowered.get("x-api-key", "").strip() or None


def require(principal: Principal | None, role: Role, *, auth_error: str | None = None) -> Principal:
    """The principal, if it may act with ``role``; Unauthorized/Forbidden otherwise."""
    if principal is None:
        raise Unauthorized(
            auth_error or "an API key is required (Authorization: Bearer <key> or X-API-Key)"
        )
    if not principal.allows(role):
        raise Forbidden(f"{principal.name!r} has role {principal.role}; this needs {role}")
    return principal


class MintedKey(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    role: Role
    key: str
    sha256: str

    @property
    def env_entry(self) -> str:
        return f"{self.name}:{self.role}:{self.sha256}"

    @property
    def toml_entry(self) -> str:
        return f'[[keys]]\nname = "{self.name}"\nrole = "{self.role}"\nsha256 = "{self.sha256}"\n'


def mint_key(name: str, role: str) -> MintedKey:
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not name or any(c in name for c in ':,\n"'):
        raise ConfigError(f"key name {name!r} must be non-empty without ':', ',' or quotes")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return MintedKey(name=name, role=role, key=key, sha256=hash_key(key))


def apikey_create_text(name: str, role: str) -> str:
    """What ``tagtrail apikey create NAME ROLE`` prints: the key (once) and how to configure it."""
    minted = mint_key(name, role)
    return (
        f"API key for {minted.name} ({minted.role}) — shown once, store it now:\n\n"
        f"    {minted.key}\n\n"
        f"Add to the file named by TAGTRAIL_API_KEYS_FILE (TOML):\n\n{minted.toml_entry}\n"
        f"or append to TAGTRAIL_API_KEYS:\n\n    {minted.env_entry}\n"
    )
