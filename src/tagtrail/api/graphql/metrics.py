"""GraphQL latency by operation: every request is one POST /graphql to the HTTP metrics.

Observes each operation's duration in ``tagtrail_graphql_operation_duration_seconds``
labelled by operation name (``anonymous`` when unnamed; bounded, see
:meth:`~tagtrail.usecases.metrics.Metrics.operation_label`) and type (query, mutation;
``invalid`` / ``unknown`` when the document does not parse or names no operation of it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions.base_extension import SchemaExtension
from strawberry.types import ExecutionContext

from tagtrail.api.graphql.context import Context


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        raised = False
        try:
            yield
        except BaseException:  # e.g. a syntax error raised through the extensions
            raised = True
            raise
        finally:
            ctx = self.execution_context
            if isinstance(ctx.context, Context):
                metrics = ctx.context.runtime.metrics
                name, op_type = _operation(ctx)
                label = metrics.operation_label(name) if op_type != "unknown" else "invalid"
                seconds = time.perf_counter() - started
                metrics.graphql_operation(label, op_type, seconds, failed=raised or _failed(ctx))


def _operation(ctx: ExecutionContext) -> tuple[str | None, str]:
    if ctx.graphql_document is None:
        return None, "unknown"
    try:
        return ctx.operation_name, ctx.operation_type.value
    except RuntimeError:  # the request names an operation the document lacks
        return None, "unknown"


def _failed(ctx: ExecutionContext) -> bool:
    if ctx.pre_execution_errors:
        return True
    return bool(ctx.result is not None and ctx.result.errors)
