"""The ``tagtrail`` command line."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tagtrail import __version__
from tagtrail.api.logs import stream_handler
from tagtrail.config import Settings, load_settings
from tagtrail.errors import ConfigError, InvalidInput, TagtrailError

log = logging.getLogger("tagtrail")
DEMO_MODEL = "random-init"
DEMO_SIZE = 120
MAX_NODES = 9  # as tagtrail.embedded.cluster.MAX_NODES (not imported: the CLI starts fast)


def _setup_logging(verbose: bool, command: str) -> None:
    try:
        fmt = load_settings().log_format
    except TagtrailError:  # reported by the command itself
        fmt = None
    # The server logs JSON lines (for collectors); the other commands talk to a person.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        handlers=[stream_handler(fmt or ("json" if command == "serve" else "text"))],
    )
    # opensearch-py logs every request (and tracebacks for refused connections) at INFO.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _node_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nodes takes a whole number, not {text!r}") from None
    if not 1 <= count <= MAX_NODES:
        raise argparse.ArgumentTypeError(
            f"--nodes must be 1..{MAX_NODES} (one machine's worth of nodes), not {count}"
        )
    return count


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tagtrail", description=__doc__)
    p.add_argument("--version", action="version", version=f"tagtrail {__version__}")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP/GraphQL server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="offline demo: random-init model unless TAGTRAIL_MODEL is set, "
        "and seed a generated catalogue when the store is empty",
    )

    node = sub.add_parser("opensearch", help="manage the embedded OpenSearch node (or cluster)")
    node_sub = node.add_subparsers(dest="action", required=True)
    start = node_sub.add_parser("start", help="start (or reuse) the node; waits until healthy")
    start.add_argument("--wipe", action="store_true", help="delete the node's data first")
    stop = node_sub.add_parser("stop", help="stop the node (without --nodes: every node)")
    status = node_sub.add_parser("status", help="print the node's status as JSON")
    for action in (start, stop, status):
        action.add_argument(
            "--nodes",
            type=_node_count,
            default=None if action is stop else 1,
            help=f"a local cluster of N nodes (1..{MAX_NODES}) on ports TAGTRAIL_EMBEDDED_PORT+i",
        )

    ingest = sub.add_parser("ingest", help="ingest a folder of product photos")
    ingest.add_argument(
        "directory", metavar="SOURCE", help="a folder; with --ray also a URI such as s3://b/p"
    )
    ingest.add_argument("--manifest", type=Path, help="CSV with a 'filename' column + metadata")
    ingest.add_argument("--batch-size", type=int)
    ingest.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray Data (extra tagtrail[ray]): no ADDRESS starts a local Ray or joins "
        "RAY_ADDRESS; 'auto' or ray://head:10001 joins a cluster",
    )
    ingest.add_argument("--actors", type=int, help="with --ray: encoder actors (default: GPUs, 1)")

    demo = sub.add_parser("demo-catalogue", help="generate a synthetic product catalogue")
    demo.add_argument("count", type=int)
    demo.add_argument("directory", type=Path)
    demo.add_argument("--seed", type=int, default=0)

    reproject = sub.add_parser("reproject", help="rebuild asset tags from tag_events")
    reproject.add_argument("--asset", action="append", help="only these asset ids")

    retag = sub.add_parser(
        "retag",
        help="re-tag stored assets from their vectors (new model head or "
        "taxonomy); human decisions are kept; resumable",
    )
    retag.add_argument(
        "--preview", action="store_true", help="write nothing: what would change, per segment"
    )
    retag.add_argument("--attribute", help="preview only this attribute")
    retag.add_argument("--sample", type=int, default=3, help="example assets per row")
    sub.add_parser("init-indices", help="apply index mappings (idempotent)")

    taxonomy = sub.add_parser("taxonomy", help="preview and apply a taxonomy change")
    taxonomy_sub = taxonomy.add_subparsers(dest="action", required=True)
    for name, text in (
        (
            "preview",
            "what moving from the taxonomy in force to NEW_DIR would change; writes nothing",
        ),
        (
            "apply",
            "put NEW_DIR in force for every server and migrate every stored asset (resumable)",
        ),
    ):
        one = taxonomy_sub.add_parser(name, help=text)
        one.add_argument("directory", type=Path, metavar="NEW_DIR")
        one.add_argument("--sample", type=int, default=3, help="example assets per row")

    heads = sub.add_parser("heads", help="heads trained from reviewer decisions")
    heads.add_argument("--actor", default="cli", help="who is recorded as acting")
    heads_sub = heads.add_subparsers(dest="action", required=True)
    train = heads_sub.add_parser("train", help="train a challenger from reviewer decisions")
    train.add_argument("attribute")
    evaluate = heads_sub.add_parser("evaluate", help="a version's evaluation and the gate")
    evaluate.add_argument("attribute")
    evaluate.add_argument("--version", dest="head_version", help="default: the challenger")
    promote = heads_sub.add_parser("promote", help="make a version the champion (gated)")
    promote.add_argument("attribute")
    promote.add_argument("head_version", metavar="VERSION")
    promote.add_argument("--force", action="store_true", help="override the gate (needs --note)")
    promote.add_argument("--note", help="why (recorded with the promotion)")
    listing = heads_sub.add_parser("list", help="stored head versions")
    listing.add_argument("attribute", nargs="?")
    events = heads_sub.add_parser(
        "events", help="head events, newest first: trainings, verdicts, promotions and why"
    )
    events.add_argument("attribute", nargs="?")
    events.add_argument("--first", type=int, default=50, help="how many (capped by the page size)")
    events.add_argument(
        "--tick", action="store_true", help="run one round of the retraining cadence first"
    )

    audit = sub.add_parser("audit", help="sample audits of applied tags")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    for name, text in (
        ("sample", "draw a stratified sample to audit"),
        ("report", "measured precision per stratum"),
    ):
        one = audit_sub.add_parser(name, help=text)
        one.add_argument("--round", default="r1", help="sample round (its hash salt)")
        one.add_argument("--attribute")
        one.add_argument("--target", type=float, default=0.98, help="precision to show")
        if name == "sample":
            one.add_argument(
                "--no-novelty",
                dest="novelty",
                action="store_false",
                help="do not split strata by novelty (far from the head's training vectors)",
            )
    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--out", type=Path, default=Path("schema.graphql"))

    key = sub.add_parser("apikey", help="API keys")
    key_sub = key.add_subparsers(dest="action", required=True)
    create = key_sub.add_parser("create", help="mint a key; prints it once with its hash line")
    create.add_argument("name")
    create.add_argument("role", choices=["viewer", "reviewer", "admin"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.command)
    try:
        return _dispatch(args)
    except TagtrailError as exc:
        print(f"tagtrail: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tagtrail: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from tagtrail import commands

    settings = load_settings()
    match args.command:
        case "serve":
            return _serve(settings, args)
        case "opensearch":
            return commands.opensearch(
                settings, args.action, wipe=getattr(args, "wipe", False), nodes=args.nodes
            )
        case "ingest":
            _ensure_store(settings)
            if args.ray is not None:
                return commands.ingest_with_ray(settings, args)
            if args.actors is not None:
                raise InvalidInput("--actors needs --ray", field="actors")
            return asyncio.run(
                commands.ingest_directory(
                    settings,
                    Path(args.directory),
                    manifest=args.manifest,
                    batch_size=args.batch_size,
                )
            )
        case "demo-catalogue":
            return commands.demo_catalogue(settings, args.count, args.directory, seed=args.seed)
        case "reproject":
            return asyncio.run(commands.reproject(settings, args.asset))
        case "retag":
            _ensure_store(settings)
            return asyncio.run(commands.retag(settings, args))
        case "init-indices":
            _ensure_store(settings)
            return asyncio.run(commands.init_indices(settings))
        case "taxonomy":
            _ensure_store(settings)
            return asyncio.run(commands.taxonomy(settings, args))
        case "heads":
            _ensure_store(settings)
            return asyncio.run(commands.heads(settings, args))
        case "audit":
            _ensure_store(settings)
            return asyncio.run(commands.audit(settings, args))
        case "export-schema":
            return commands.export_schema(args.out)
        case "apikey":
            return commands.create_api_key(args.name, args.role)
    raise AssertionError(args.command)


def _ensure_store(settings: Settings) -> None:
    """With no TAGTRAIL_OPENSEARCH_URL, start (or reuse) the embedded node."""
    if settings.embedded:
        from tagtrail.embedded.node import EmbeddedNode

        node = EmbeddedNode(settings)
        if not node.status().answering:
            log.info(
                "starting embedded OpenSearch on port %s (first run assembles it "
                "from Maven Central)",
                settings.embedded_port,
            )
        status = node.start()
        log.info("OpenSearch %s at %s (%s)", status.version, status.url, status.health)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from tagtrail import commands
    from tagtrail.app import create_app

    overrides: dict[str, object] = {"host": args.host, "port": args.port}
    if args.demo:
        overrides["dev"] = True
        if not os.environ.get("TAGTRAIL_MODEL"):
            overrides["model"] = DEMO_MODEL
    settings = settings.with_changes(**{k: v for k, v in overrides.items() if v is not None})
    host = listen_host(settings)  # before anything starts: a refused host costs nothing
    _ensure_store(settings)
    if args.demo:
        asyncio.run(commands.seed_demo(settings, DEMO_SIZE))
    log.info("serving on http://%s:%s (GraphQL at /graphql)", host, settings.port)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=settings.port,
        log_level="info",
        log_config=None,  # uvicorn's own lines go through the app's (JSON) handlers
        access_log=False,  # tagtrail.access logs each request with its id
        # SIGTERM: requests in flight get this long, then are cancelled (exit in seconds).
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen_host(settings: Settings) -> str:
    """Where to listen. Open development mode (TAGTRAIL_DEV with no API keys: every caller
    is admin) listens on loopback only, unless TAGTRAIL_DEV_LISTEN_ANY, and says so."""
    from tagtrail.api.auth import KeyRing

    if not KeyRing(settings).open_dev_mode:
        return settings.host
    if not _loopback(settings.host) and not settings.dev_listen_any:
        raise ConfigError(
            f"development mode without API keys lets every caller act as admin, so it listens "
            f"on loopback only, not {settings.host!r}: use --host 127.0.0.1, configure API keys "
            "(TAGTRAIL_API_KEYS or TAGTRAIL_API_KEYS_FILE), or set TAGTRAIL_DEV_LISTEN_ANY=true "
            "where the port is published to loopback only (a container)"
        )
    where = "loopback only" if _loopback(settings.host) else "TAGTRAIL_DEV_LISTEN_ANY: not loopback"
    log.warning(
        "development mode without API keys: every caller acts as admin; listening on %s (%s)",
        settings.host,
        where,
    )
    return settings.host
