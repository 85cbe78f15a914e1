"""Log lines with the request id: JSON (one object a line) or text.

The request id lives in a ContextVar: set by the request-id middleware for the task that
handles the request (and copied into the tasks and threads it starts), read by
:class:`RequestIdFilter`, which stamps it on every record while the caller's context is
still current — before a queue handler hands the record to its listener thread.
"""

from __future__ import annotations

import copy
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

LogFormat = Literal["json", "text"]

# A ContextVar is per request (per asyncio context), not shared mutable state.
REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("tagtrail_request_id", default=None)

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is logged.
_RECORD_FIELDS: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "request_tag",
    "color_message",
    "taskName",
}
_SCALARS: Final = (str, int, float, bool, type(None))


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (None outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message", "request_id", ...extra, "exception"}``."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder()

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value if isinstance(value, _SCALARS) else repr(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return self._encoder.encode(line).decode("utf-8")


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def litestar_logging(fmt: LogFormat) -> dict[str, Any]:
    """``formatters``, ``filters`` and ``handlers`` for Litestar's LoggingConfig: its own
    handlers (the queue listener keeps writes off the event loop) with our formatter and
    the request-id filter."""
    from litestar.logging.config import default_handlers

    handlers = copy.deepcopy(default_handlers)  # dictConfig rewrites nested specs in place
    for spec in handlers.values():
        spec["filters"] = ["request_id"]
    handlers["console"]["class"] = f"{__name__}.StderrHandler"
    if "listener" not in handlers["queue_listener"]:  # Python 3.11: the queue writes itself
        handlers["queue_listener"]["class"] = f"{__name__}.QueueToStderr"
    cls = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "formatters": {"standard": {"()": cls}},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": handlers,
    }


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr as it was when logging was configured. A record for a stream closed since (a
    test runner's capture of an earlier test) is dropped: there is nowhere to write it, and
    reporting a logging error there would only clutter the runner's output."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "closed", False):
            return
        super().emit(record)


def _queue_listener_handler() -> type[logging.Handler]:
    from litestar.logging.standard import QueueListenerHandler

    return QueueListenerHandler


class QueueToStderr(_queue_listener_handler()):  # type: ignore[misc]
    """Litestar's queue handler (writes leave the event loop), writing to :class:`StderrHandler`."""

    def __init__(self) -> None:
        super().__init__([StderrHandler()])


def stream_handler(fmt: LogFormat) -> logging.Handler:
    """A stderr handler for the CLI, before (or without) the app's logging config."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    return handler
