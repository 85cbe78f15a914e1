"""Expected failures as GraphQL types, and masking of everything else.

Expected failures (a stale revision, an unknown asset, a bad value) are *results*: union
members a client can switch on, with the data it needs to recover (``currentRevision``,
``field``). Errors still raised from resolvers are either deliberate tagtrail errors —
shown, with ``extensions.code`` (``UNAUTHENTICATED`` for a missing or unknown key,
``STORE_UNAVAILABLE`` while OpenSearch cannot answer: worth retrying) — or unexpected,
which are logged with their traceback and replaced by "Unexpected error.". The client's own
malformed requests (parse, validation, variables that do not coerce) are never masked.
"""

from __future__ import annotations

import logging
from typing import Final

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from tagtrail.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    ModelUnavailable,
    NotFound,
    StoreUnavailable,
    TagtrailError,
    Unauthorized,
)

log = logging.getLogger("tagtrail.api.graphql")

_CODES: Final[dict[str, str]] = {
    "unauthorized": "UNAUTHENTICATED",
    "forbidden": "FORBIDDEN",
    "not_found": "NOT_FOUND",
    "conflict": "CONFLICT",
    "invalid_input": "BAD_USER_INPUT",
    "image_rejected": "BAD_USER_INPUT",
    "taxonomy_invalid": "BAD_USER_INPUT",
    "model_unavailable": "SERVICE_UNAVAILABLE",
    "store_unavailable": "STORE_UNAVAILABLE",
}


@strawberry.type(name="NotFound", description="The asset (or tag, or event) does not exist.")
class NotFoundError:
    message: str
    id: str | None = None


@strawberry.type(
    name="Conflict",
    description="Optimistic concurrency: the asset changed since it was read. "
    "Nothing was written; reload it at currentRevision and decide again.",
)
class ConflictError:
    message: str
    current_revision: int | None


@strawberry.type(
    name="InvalidInput", description="The input is unusable; `field` names the offending argument."
)
class InvalidInputError:
    message: str
    field: str | None


@strawberry.type(
    name="Forbidden", description="The API key's role does not allow this; nothing was written."
)
class ForbiddenError:
    message: str
    required_role: str


@strawberry.type(
    name="Unauthenticated", description="No API key, or an unknown one; nothing was written."
)
class UnauthenticatedError:
    message: str


ErrorResult = (
    NotFoundError | ConflictError | InvalidInputError | ForbiddenError | UnauthenticatedError
)


def error_result(
    exc: TagtrailError, *, required_role: str = "reviewer", id: str | None = None
) -> ErrorResult:
    """The union member for an expected failure; anything else is re-raised (masked)."""
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message, id=id)
    if isinstance(exc, Conflict):
        return ConflictError(message=exc.message, current_revision=exc.current_revision)
    if isinstance(exc, InvalidInput):
        return InvalidInputError(message=exc.message, field=exc.field)
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.message, required_role=required_role)
    if isinstance(exc, Unauthorized):
        return UnauthenticatedError(message=exc.message)
    raise exc


def expected_errors(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Log the expected errors of a request briefly; return the others (to log in full).

    An outage is one warning line, not a traceback per request; the caller's own mistakes
    (a bad query, a missing key) are not failures of the server at all.
    """
    unexpected = []
    for error in errors:
        original = error.original_error
        if isinstance(original, StoreUnavailable | ModelUnavailable):
            log.warning("%s: %s", ".".join(map(str, error.path or ())), original.message)
        elif original is None or isinstance(original, TagtrailError | GraphQLError):
            log.debug("GraphQL error: %s", error.message)
        else:
            unexpected.append(error)
    return unexpected


class TagtrailMaskErrors(MaskErrors):
    """Show tagtrail's own errors (with a machine-readable code); mask and log the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask)

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError):
            # Parse and validation errors, and variables that do not coerce (graphql-core
            # keeps the scalar's own GraphQLError as the original): the client's request,
            # safe to show — masking them would blame the server for a client's typo.
            return False
        if isinstance(original, TagtrailError):
            error.extensions = {
                **(error.extensions or {}),
                "code": _CODES.get(original.code, original.code.upper()),
            }
            return False
        log.error("unexpected error in %s", ".".join(map(str, error.path or ())), exc_info=original)
        return True

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked
