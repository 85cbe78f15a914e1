"""A bounded GraphQL fuzz soak of every operation, with an admin key, against a real server.

    PYTHONPATH=src:. python bench/graphql_fuzz_soak.py [--cases 30] [--seed 1] [--deadline 10]
        [--smoke] [--figures F]

Starts ``tagtrail serve`` (its own process) over the node at ``TAGTRAIL_OPENSEARCH_URL`` (or
127.0.0.1:9200) on a fresh index prefix with one admin key, uploads a few generated photos,
then sends ``--cases`` schemathesis cases of each of the operations of schema.graphql, one
after another (tests/support/graphql_soak.py says what counts as a server error or a
timeout). Right afterwards it times a missing-id lookup. Prints the report as JSON; exits 1
unless there were 0 server errors, 0 timeouts and the lookup answered within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import msgspec
from figures import Figures, add_common_arguments
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "tt_soak-bench-admin"


def _photo(n: int) -> bytes:
    img = Image.new("RGB", (240 + n, 300), (232, 231, 228))
    img.paste(((53 * n) % 256, (97 * n) % 256, 80), (50, 40, 190, 260))
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


async def soak(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))  # the soak lives with the tests' support code
    from tests.support.graphql_soak import generate, run
    from tests.support.server import serving

    from tagtrail.api.auth import hash_key
    from tagtrail.config import load_settings
    from tagtrail.store.client import make_client
    from tagtrail.store.indices import drop_indices

    prefix = f"tt-soak-{uuid.uuid4().hex[:8]}"
    url = os.environ.get("TAGTRAIL_OPENSEARCH_URL", "http://127.0.0.1:9200")
    env = {
        "TAGTRAIL_OPENSEARCH_URL": url,
        "TAGTRAIL_INDEX_PREFIX": prefix,
        "TAGTRAIL_MODEL": args.model,
        "TAGTRAIL_DEV": "false",
        "TAGTRAIL_API_KEYS": f"soak:admin:{hash_key(ADMIN)}",
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_LOG_FORMAT": "text",
        "TAGTRAIL_REQUEST_TIMEOUT_S": str(args.deadline),
    }
    cases = generate(args.cases, args.seed)
    settings = load_settings(environ={}, opensearch_url=url, index_prefix=prefix)
    try:
        with tempfile.TemporaryDirectory() as logs:
            async with serving(["soak"], env, Path(logs)) as [server]:
                headers = {"Authorization": f"Bearer {ADMIN}"}
                async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                    for n in range(args.photos):
                        files = {"image": (f"p{n}.jpg", _photo(n), "image/jpeg")}
                        (await http.post("/assets", files=files, timeout=120)).raise_for_status()
                report = await asyncio.to_thread(
                    run, server.url, ADMIN, cases, client_timeout_s=args.deadline + 20
                )
                print(msgspec.json.format(msgspec.json.encode(report)).decode())
                print(f"server log: {server.log_tail(5)}", file=sys.stderr)
    finally:
        client = make_client(settings)
        await drop_indices(client, settings)
        await client.close()
    figures = Figures("graphql_fuzz_soak")
    figures.add("cases sent", report.cases, "", better="higher")
    figures.add("server errors", report.server_errors, "", better="lower", ratio=True, target=0)
    figures.add("timeouts", report.timeouts, "", better="lower", ratio=True, target=0)
    figures.add("missing-id lookup after", report.lookup_ms, "ms", better="lower", target=100)
    figures.write(args.figures)
    ok = report.server_errors == 0 and report.timeouts == 0 and report.lookup_ms < 100
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=30, help="cases per operation (every operation)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--deadline", type=float, default=10.0, help="TAGTRAIL_REQUEST_TIMEOUT_S")
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--model", default="random-init:tiny")
    add_common_arguments(p)
    args = p.parse_args()
    if args.smoke:
        args.cases, args.photos = 1, 2
    return asyncio.run(soak(args))


if __name__ == "__main__":
    raise SystemExit(main())
