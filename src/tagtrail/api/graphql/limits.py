"""Query cost limits and the parse/validation caches.

Depth (``TAGTRAIL_MAX_QUERY_DEPTH``; the deepest legitimate query, explainTag → exemplars →
asset → tags, is 6), aliases and tokens are checked before anything executes: without them
``{a1: searchAssets(...) a2: searchAssets(...) ...}`` multiplies the cost of one request at
will. Page size and body size are limited elsewhere (pagination, ``create_app``).

The limiter rule classes are built once per schema, not per request: strawberry's
validation cache keys on the rule classes, so fresh classes per request would never hit it.
Parsing and validating a typical query costs a few milliseconds of Python; clients send
the same few query texts over and over, so both are cached (bounded LRU).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.base_extension import SchemaExtension

from tagtrail.config import Settings

MAX_ALIASES: Final = 30
MAX_TOKENS: Final = 5_000
CACHE_SIZE: Final = 256


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories: strawberry builds fresh extension instances per request."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
    ]
