"""What the CLI subcommands do (kept apart from argument parsing), by command group."""

from __future__ import annotations

from tagtrail.commands.admin import create_api_key, export_schema
from tagtrail.commands.heads import audit, evaluation_table, heads, segment_table
from tagtrail.commands.ingest import demo_catalogue, ingest_directory, ingest_with_ray, seed_demo
from tagtrail.commands.store import init_indices, opensearch, reproject
from tagtrail.commands.taxonomy import retag, taxonomy

__all__ = [
    "audit",
    "create_api_key",
    "demo_catalogue",
    "evaluation_table",
    "export_schema",
    "heads",
    "ingest_directory",
    "ingest_with_ray",
    "init_indices",
    "opensearch",
    "reproject",
    "retag",
    "seed_demo",
    "segment_table",
    "taxonomy",
]
