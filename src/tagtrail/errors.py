"""The one exception tree of tagtrail.

Everything tagtrail raises on purpose derives from :class:`TagtrailError`. The HTTP and
GraphQL edges map these to status codes and union results; anything else is an internal
error, logged and masked.

    TagtrailError
    ├── ConfigError            bad TAGTRAIL_* settings
    ├── InvalidInput           caller sent something unusable (field named in ``field``)
    │   ├── ImageRejected      an image failed decoding or the safety limits
    │   └── TaxonomyError      a taxonomy file is invalid (file and entry path named)
    ├── NotFound               an asset, tag or event does not exist
    ├── Conflict               optimistic concurrency: a stale revision
    ├── Unauthorized           no or unknown API key
    ├── Forbidden              the key's role does not allow the operation
    ├── ModelUnavailable       the vision model cannot be loaded (e.g. offline, no local copy)
    ├── StoreUnavailable       OpenSearch is unreachable, overloaded or its indices are missing
    └── EmbeddedNodeError      the embedded OpenSearch node could not be built or started
"""

from __future__ import annotations


class TagtrailError(Exception):
    """Base of every error tagtrail raises on purpose."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(TagtrailError):
    code = "config"


class InvalidInput(TagtrailError):
    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImageRejected(InvalidInput):
    code = "image_rejected"


class TaxonomyError(InvalidInput):
    """A taxonomy file is invalid; the message names the file and the entry path."""

    code = "taxonomy_invalid"

    def __init__(self, message: str, *, file: str, path: str) -> None:
        super().__init__(f"{file}: {path}: {message}", field=path)
        self.file = file
        self.path = path


class NotFound(TagtrailError):
    code = "not_found"


class Conflict(TagtrailError):
    code = "conflict"

    def __init__(self, message: str, *, current_revision: int | None = None) -> None:
        super().__init__(message)
        self.current_revision = current_revision


class Unauthorized(TagtrailError):
    code = "unauthorized"


class Forbidden(TagtrailError):
    code = "forbidden"


class ModelUnavailable(TagtrailError):
    code = "model_unavailable"


class StoreUnavailable(TagtrailError):
    """OpenSearch cannot answer now (down, unreachable, overloaded); worth retrying later."""

    code = "store_unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class EmbeddedNodeError(TagtrailError):
    code = "embedded_node"
