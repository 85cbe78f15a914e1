"""Structured logs: JSON lines carrying the request id that the response header carries."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from tagtrail.api.logs import (
    REQUEST_ID,
    JsonFormatter,
    RequestIdFilter,
    StderrHandler,
    TextFormatter,
    litestar_logging,
    stream_handler,
)
from tests.api.conftest import Api, ApiFactory


class Lines(logging.Handler):
    """Collects formatted lines, formatted and filtered as the app's own handler is."""

    def __init__(self, like: logging.Handler) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(like.formatter)
        for f in like.filters:
            self.addFilter(f)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(line) for line in self.lines]


@pytest.fixture
def app_logs(api: Api) -> Iterator[Lines]:
    """The root handler the app configured (JSON + request-id filter), mirrored."""
    root = logging.getLogger()
    configured = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    assert configured, root.handlers
    assert any(isinstance(f, RequestIdFilter) for f in configured[0].filters)
    lines = Lines(configured[0])
    root.addHandler(lines)
    try:
        yield lines
    finally:
        root.removeHandler(lines)


@pytest.mark.opensearch
async def test_request_id_is_echoed_and_logged(api: Api, app_logs: Lines) -> None:
    query = {"query": "{ version }"}
    given = await api.http.post("/graphql", json=query, headers={"X-Request-ID": "trace-42.a_B"})
    assert given.headers["X-Request-ID"] == "trace-42.a_B"
    generated = await api.http.post("/graphql", json=query)
    rid = generated.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    for bad in ("has space", "x" * 129, "semi;colon", ""):
        other = await api.http.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", other.headers["X-Request-ID"]), bad

    # Probes (/healthz) are logged at DEBUG, below the tagtrail loggers' INFO.
    access = [r for r in app_logs.records() if r["logger"] == "tagtrail.access"]
    assert [r["request_id"] for r in access] == ["trace-42.a_B", rid]
    line = access[0]
    assert line["level"] == "INFO"
    assert line["message"].startswith("POST /graphql 200 ")
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert line["duration_ms"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])


@pytest.mark.opensearch
async def test_error_lines_carry_request_id_and_traceback(api: Api, app_logs: Lines) -> None:
    await api.client.indices.delete(index=api.settings.index_name("assets") + "-v1")
    response = await api.http.post(
        "/graphql",
        json={"query": "{ searchAssets { ... on AssetSearch { totalCount } } }"},
        headers={"X-Request-ID": "req-boom"},
    )
    assert response.json()["errors"][0]["message"] == "Unexpected error."
    errors = [r for r in app_logs.records() if r["logger"] == "tagtrail.api.graphql"]
    assert errors, app_logs.lines
    line = errors[0]
    assert line["level"] == "ERROR"
    assert line["request_id"] == "req-boom"
    assert "unexpected error in searchAssets" in line["message"]
    assert "Traceback" in line["exception"]
    assert "NotFoundError" in line["exception"] or "index_not_found" in line["exception"]


@pytest.mark.opensearch
async def test_text_format_setting(make_api: ApiFactory) -> None:
    await make_api(log_format="text")
    root = logging.getLogger()
    assert any(isinstance(h.formatter, TextFormatter) for h in root.handlers)
    assert not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)


def _record(msg: str, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger("tagtrail.test").makeRecord(
        "tagtrail.test", logging.WARNING, __file__, 1, msg, (), None, extra=extra
    )
    RequestIdFilter().filter(record)
    return record


def test_json_lines_outside_and_inside_a_request() -> None:
    fmt = JsonFormatter()
    outside = msgspec.json.decode(fmt.format(_record("start %s", sku="A-1")))
    assert outside["request_id"] is None
    assert outside["message"] == "start %s"
    assert outside["sku"] == "A-1"
    token = REQUEST_ID.set("abc")
    try:
        try:
            raise ValueError("bad thing")
        except ValueError:
            record = _record("failed")
            record.exc_info = sys.exc_info()
        inside = msgspec.json.decode(fmt.format(record))
    finally:
        REQUEST_ID.reset(token)
    assert inside["request_id"] == "abc"
    assert inside["level"] == "WARNING"
    assert inside["logger"] == "tagtrail.test"
    assert "ValueError: bad thing" in inside["exception"]
    assert "\n" not in fmt.format(record)  # one line per record


def test_text_lines_name_the_request() -> None:
    token = REQUEST_ID.set("r-1")
    try:
        line = TextFormatter().format(_record("hello"))
    finally:
        REQUEST_ID.reset(token)
    assert line.endswith(" WARNING tagtrail.test [r-1]: hello")
    assert TextFormatter().format(_record("plain")).endswith(" WARNING tagtrail.test: plain")
    handler = stream_handler("json")
    assert isinstance(handler.formatter, JsonFormatter)


def test_a_record_for_a_closed_stderr_is_dropped_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test runner swaps stderr per test and closes the old one: the app's handler (bound
    when logging was configured) must not print "--- Logging error ---" for every later
    record, nor write them into another test's output."""
    config = litestar_logging("json")["handlers"]
    assert config["console"]["class"].endswith("StderrHandler")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    handler = StderrHandler()  # binds the stderr of now, as logging configuration does
    handler.setFormatter(JsonFormatter())
    record = logging.LogRecord("tagtrail", logging.INFO, __file__, 1, "hello", None, None)
    handler.handle(record)
    assert '"message":"hello"' in first.getvalue()
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    handler.handle(record)
    assert second.getvalue() == ""  # neither the record nor a logging error
