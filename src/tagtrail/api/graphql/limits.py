"""Query cost limits: depth, aliases and tokens are checked before anything executes.

Depth is ``TAGTRAIL_MAX_QUERY_DEPTH`` (the deepest legitimate query — explainTag →
exemplars → asset → tags — is 6). Aliases and tokens bound the work one document can ask
for: without them ``{a1: searchAssets(...) a2: searchAssets(...) ...}`` multiplies the cost
of a request at will. Page size and request body size are limited elsewhere (pagination,
``create_app``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.extensions.base_extension import SchemaExtension

from tagtrail.config import Settings

MAX_ALIASES: Final = 30
MAX_TOKENS: Final = 5_000


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Factories: strawberry builds fresh extension instances per request."""
    depth = settings.max_query_depth
    return [
        lambda: QueryDepthLimiter(max_depth=depth),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]
