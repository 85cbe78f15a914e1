"""A bounded GraphQL fuzz soak: schemathesis cases for every operation of ``schema.graphql``,
sent to a real tagtrail server with an admin key, one after another.

A case fails as a *server error* when the answer is a 5xx (other than the deadline's 503),
not JSON, or a GraphQL error that is internal ("Unexpected error.") or an outage
(``STORE_UNAVAILABLE``); it fails as a *timeout* when the client gave up waiting or the
server cut it at its deadline (503 ``TIMEOUT``). Answers that refuse the input (validation
errors, union results) are what a fuzz case should get. Right after the cases, a missing-id
lookup is timed: a soak that left work behind (a loop holding store connections) shows there.

Used by ``bench/graphql_fuzz_soak.py`` (the soak) and ``tests/api/test_graphql_soak.py``
(its smoke version).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from hypothesis import HealthCheck, Phase, given, seed, settings

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"
LOOKUP = '{ asset(id: "fuzz-soak-missing") { __typename } }'
INTERNAL = frozenset({"INTERNAL_SERVER_ERROR", "STORE_UNAVAILABLE"})


class Case(msgspec.Struct, frozen=True):
    operation: str  # Query.asset, Mutation.reopenTags, ...
    query: str


class Failure(msgspec.Struct, frozen=True):
    operation: str
    kind: str  # server_error or timeout
    detail: str
    query: str


class SoakReport(msgspec.Struct, kw_only=True):
    operations: int
    cases: int
    server_errors: int
    timeouts: int
    seconds: float
    lookup_ms: float  # the first missing-id lookup right after the cases
    lookup_max_ms: float  # the slowest of five
    by_operation: dict[str, int]  # cases sent per operation
    failures: list[Failure]  # the first few, with their query


def generate(cases_per_operation: int, seed_value: int, schema: Path = SCHEMA) -> list[Case]:
    """``cases_per_operation`` generated cases (at most) for every operation, reproducibly."""
    import schemathesis.graphql

    loaded = schemathesis.graphql.from_path(str(schema))
    cases: list[Case] = []
    for result in loaded.get_all_operations():
        cases.extend(_draw(result.ok(), cases_per_operation, seed_value))
    return cases


def _draw(operation: Any, count: int, seed_value: int) -> list[Case]:
    drawn: list[Case] = []

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def collect(case: Any) -> None:
        if len(drawn) < count:  # hypothesis may call more than max_examples
            drawn.append(Case(operation=operation.label, query=str(case.body)))

    collect()
    return drawn


def _judge(response: httpx.Response) -> tuple[str, str] | None:
    """(kind, detail) when the answer is a failure of the server, else None."""
    try:
        body = response.json()
    except ValueError:
        return "server_error", f"HTTP {response.status_code}, not JSON: {response.text[:200]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    codes = {((e.get("extensions") or {}).get("code")) for e in errors or []}
    if response.status_code == 503 and "TIMEOUT" in codes:
        return "timeout", "cut at the server's deadline"
    if response.status_code >= 500:
        return "server_error", f"HTTP {response.status_code}: {response.text[:200]}"
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        if code in INTERNAL or error.get("message") == "Unexpected error.":
            return "server_error", f"{code}: {error.get('message')}"
    return None


def _lookup_ms(http: httpx.Client) -> float:
    started = time.perf_counter()
    answer = http.post("/graphql", json={"query": LOOKUP})
    elapsed = (time.perf_counter() - started) * 1000
    found = ((answer.json().get("data") or {}).get("asset")) or {}
    if found.get("__typename") != "NotFound":
        return float("inf")  # no answer is not a fast answer
    return elapsed


def run(
    url: str, key: str, cases: list[Case], *, client_timeout_s: float, keep_failures: int = 20
) -> SoakReport:
    """Send every case in turn; then time the missing-id lookup."""
    failures: list[Failure] = []
    counts = {"server_error": 0, "timeout": 0}
    by_operation: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    with httpx.Client(base_url=url, headers=headers, timeout=client_timeout_s) as http:
        for case in cases:
            by_operation[case.operation] = by_operation.get(case.operation, 0) + 1
            try:
                verdict = _judge(http.post("/graphql", json={"query": case.query}))
            except httpx.TimeoutException:
                verdict = ("timeout", f"no answer within {client_timeout_s} s")
            if verdict is not None:
                counts[verdict[0]] += 1
                if len(failures) < keep_failures:
                    failures.append(Failure(case.operation, verdict[0], verdict[1], case.query))
        seconds = time.monotonic() - started
        lookups = [_lookup_ms(http) for _ in range(5)]
    return SoakReport(
        operations=len(by_operation),
        cases=len(cases),
        server_errors=counts["server_error"],
        timeouts=counts["timeout"],
        seconds=round(seconds, 1),
        lookup_ms=round(lookups[0], 1),
        lookup_max_ms=round(max(lookups), 1),
        by_operation=by_operation,
        failures=failures,
    )
