"""Batch ingest on Ray Data (``tagtrail ingest SOURCE --ray [ADDRESS]``; extra ``tagtrail[ray]``).

The dataset flows: file paths (or any filesystem Ray Data reads, such as ``s3://``) → CPU
tasks that read, decode, check metadata, thumbnail, crop for CLIP and measure colour
(:func:`~tagtrail.usecases.ingest_measured.measure`) → an actor pool, each actor holding the
encoder (one GPU each when the cluster has GPUs) and a store client, that skips what is
stored, runs the forward pass, heads, taxonomy and tiers and writes in bulk
(:func:`~tagtrail.usecases.ingest_measured.store_measured`) → one outcome row per file back
to the driver. The stages are the in-process pipeline's own, so the two paths store the same
assets, tags and events; ids are content hashes and writes put-if-absent, so a re-run (or a
task Ray retries) adds nothing and an interrupted run resumes.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from tagtrail.config import Settings
from tagtrail.domain.metadata import RawMetadata
from tagtrail.domain.palette import Palette
from tagtrail.errors import ConfigError, InvalidInput
from tagtrail.usecases.ingest import IngestItem, IngestOutcome, Rejected
from tagtrail.usecases.ingest_measured import MeasuredImage, measure, store_measured
from tagtrail.usecases.runtime import Runtime
from tagtrail.vision.clip_loading import ModelSpec, image_settings_without_weights
from tagtrail.vision.colour import ColourAnalyser
from tagtrail.vision.encode import ImageSettings, set_cpu_threads

if TYPE_CHECKING:
    import pyarrow as pa

    from tagtrail.tagging.pipeline import Tagger

MANIFEST_NAME = "manifest.csv"
_OUTCOME_FIELDS = ("name", "status", "asset_id", "error")
TASK_MEMORY_PER_IMAGE = 16 * 1024 * 1024


class RayOptions(msgspec.Struct, kw_only=True, frozen=True):
    """How to run on Ray. ``address``: None starts a local Ray (or joins ``RAY_ADDRESS``);
    ``auto`` or ``ray://head:10001`` joins a running cluster."""

    address: str | None = None
    batch_size: int = 32
    actors: int | None = None  # encoder actors; None: one per GPU, or one without GPUs
    # Without GPUs: torch threads per encoder actor; None: the node's cores. The actor
    # reserves one CPU, so CPU tasks still run beside it, and the forward pass (most of the
    # work) may use cores that decoding leaves idle, as the in-process pipeline's does.
    encoder_threads: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("the batch size must be at least 1", field="batch_size")
        if self.actors is not None and self.actors < 1:
            raise InvalidInput("--actors: at least one encoder actor is needed", field="actors")
        if self.encoder_threads is not None and self.encoder_threads < 1:
            raise InvalidInput("encoder threads must be at least 1", field="encoder_threads")

    local_cpus: int | None = None  # CPUs of a local Ray started here; None: all


class SourceFiles(msgspec.Struct, kw_only=True, frozen=True):
    """What to read: local files (``paths`` with their ``names``) or a remote ``uri``."""

    root: str
    paths: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    uri: str | None = None


def find_sources(source: str) -> SourceFiles:
    """The files of a local folder (as the in-process ingest lists them), or a URI."""
    if "://" in source and not source.startswith("file://"):
        return SourceFiles(root=source.rstrip("/"), uri=source)
    folder = Path(source.removeprefix("file://"))
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a directory", field="directory")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
    )
    return SourceFiles(
        root=str(folder),
        paths=tuple(str(p.resolve()) for p in files),
        names=tuple(p.name for p in files),
    )


def _name_of(path: str, root: str) -> str:
    """A remote file's name: its path under the source root (the manifest's 'filename')."""
    bare = root.split("://", 1)[-1].rstrip("/")
    return path[len(bare) + 1 :] if path.startswith(bare + "/") else path.rsplit("/", 1)[-1]


def _measure_batch(
    batch: pa.Table,
    *,
    image: ImageSettings,
    palette: Palette,
    metadata: Mapping[str, RawMetadata],
    root: str,
) -> pa.Table:
    """CPU task: read (local paths) or take (remote bytes), then measure; one row a file."""
    import pyarrow as pa

    paths = batch.column("path").to_pylist()
    if "name" in batch.column_names:
        names = batch.column("name").to_pylist()
    else:
        names = [_name_of(p, root) for p in paths]
    blobs = batch.column("bytes").to_pylist() if "bytes" in batch.column_names else None
    items: list[IngestItem | Rejected | None] = []
    kept: list[str] = []
    for i, (path, name) in enumerate(zip(paths, names, strict=True)):
        base = name.rsplit("/", 1)[-1]
        if base == MANIFEST_NAME or base.startswith("."):
            continue
        kept.append(name)
        try:
            data = blobs[i] if blobs is not None else Path(path).read_bytes()
        except OSError as exc:
            items.append(Rejected(f"{name}: cannot read: {exc}", status="failed"))
            continue
        items.append(IngestItem(name=name, data=data, metadata=metadata.get(name)))
    measured = measure(items, image, ColourAnalyser(palette), names=kept)
    encoder = msgspec.msgpack.Encoder()
    return pa.table(
        {
            "name": pa.array([m.name for m in measured], pa.string()),
            "record": pa.array([encoder.encode(m) for m in measured], pa.binary()),
        }
    )


class TagAndStore:
    """Encoder actor: holds the tagger (with the store's champion heads) and a store client
    for its lifetime, and runs the encoder half of ingest on each batch it is given."""

    def __init__(
        self,
        settings: Settings,
        cpu_threads: int | None = None,
        crops: ImageSettings | None = None,
        store_id: str | None = None,
    ) -> None:
        if cpu_threads is not None:
            set_cpu_threads(cpu_threads or os.cpu_count() or 1)
        self._loop = asyncio.new_event_loop()
        self._runtime = Runtime(settings)
        self._decoder = msgspec.msgpack.Decoder(MeasuredImage)
        self._loop.run_until_complete(self._check(crops, store_id))

    async def _check(self, crops: ImageSettings | None, store_id: str | None) -> None:
        """Refuse to start where this node's model or store is not the driver's: crops cut
        for another model would give other vectors, and a loopback store URL on another
        machine names another OpenSearch (or none)."""
        tagger = await self._tagger()
        if crops is not None and tuple(tagger.encoder.image) != tuple(crops):
            raise ConfigError(
                f"the encoder here preprocesses as {tagger.encoder.image}, the driver cut "
                f"crops as {crops}: TAGTRAIL_MODEL must name the same model on every node"
            )
        found = (await self._runtime.store.info()).get("cluster_uuid")
        if store_id is not None and found != store_id:
            raise ConfigError(
                f"this Ray node reaches another OpenSearch ({found}) than the driver "
                f"({store_id}): set TAGTRAIL_OPENSEARCH_URL to addresses every node reaches"
            )

    async def _tagger(self) -> Tagger:
        # Per batch: follows a champion promoted while a long ingest runs.
        return await self._runtime.tagging.tagger()

    async def _run(self, measured: list[MeasuredImage]) -> list[IngestOutcome]:
        return await store_measured(self._runtime.ingest, await self._tagger(), measured)

    def __del__(self) -> None:
        # Ray Data ends its actors gracefully: close the store client's connections.
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.run_until_complete(self._runtime.close())
            loop.close()

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        measured = [self._decoder.decode(b) for b in batch.column("record").to_pylist()]
        outcomes = self._loop.run_until_complete(self._run(measured))
        return pa.table(
            {f: pa.array([getattr(o, f) for o in outcomes], pa.string()) for f in _OUTCOME_FIELDS}
        )


def _ray() -> Any:
    """The ``ray`` module, or a clear error without the extra. Untyped on purpose: Ray's
    partial annotations reject pyarrow-batch callables."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise InvalidInput(
            f"--ray needs Ray Data: pip install 'tagtrail[ray]' ({exc})", field="ray"
        ) from exc


def run_on_ray(
    settings: Settings,
    sources: SourceFiles,
    metadata: Mapping[str, RawMetadata],
    *,
    image: ImageSettings,
    palette: Palette,
    options: RayOptions,
    on_batch: Callable[[int], None] | None = None,
    store_id: str | None = None,
) -> list[IngestOutcome]:
    """Build and run the dataset (blocking); every file's outcome, in no particular order.
    ``on_batch`` hears the size of every batch of outcomes as it arrives."""
    ray = _ray()

    started = not ray.is_initialized()
    if started:
        ray.init(
            address=options.address,
            num_cpus=options.local_cpus if options.address is None else None,
            include_dashboard=False,
            log_to_driver=True,
            configure_logging=False,
        )
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        actors = options.actors or max(1, gpus)
        if sources.uri is not None:
            ds = ray.data.read_binary_files(sources.uri, include_paths=True)
        else:
            pairs = zip(sources.paths, sources.names, strict=True)
            rows = [{"path": p, "name": n} for p, n in pairs]
            if not rows:
                return []
            ds = ray.data.from_items(rows)
        ds = ds.map_batches(
            _measure_batch,
            batch_format="pyarrow",
            batch_size=options.batch_size,
            fn_kwargs={
                "image": image,
                "palette": palette,
                "metadata": dict(metadata),
                "root": sources.root,
            },
            num_cpus=1,
            # A batch's decoded working copies, crops and thumbnails stay well under this
            # per image (decode limits cap the pixels). Declared, it also keeps Ray from
            # fusing these tasks into the encoder actors (their resources differ): decode
            # and colour work must not queue behind the GPU.
            memory=options.batch_size * TASK_MEMORY_PER_IMAGE,
        )
        ds = ds.map_batches(
            TagAndStore,
            batch_format="pyarrow",
            batch_size=options.batch_size,
            fn_constructor_kwargs={
                "settings": settings,
                "cpu_threads": None if gpus else options.encoder_threads or 0,
                "crops": image,
                "store_id": store_id,
            },
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            num_gpus=1 if gpus else 0,
        )
        outcomes: list[IngestOutcome] = []
        try:
            for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                columns = {f: batch.column(f).to_pylist() for f in _OUTCOME_FIELDS}
                for row in zip(*columns.values(), strict=True):
                    pairs = zip(_OUTCOME_FIELDS, row, strict=True)
                    fields = {k: v for k, v in pairs if v is not None}
                    outcomes.append(msgspec.convert(fields, IngestOutcome))
                if on_batch is not None:
                    on_batch(batch.num_rows)
        except ray.exceptions.RayError as exc:
            raise _config_error(exc) or exc from exc
        return outcomes
    finally:
        if started:
            ray.shutdown()


def _config_error(exc: Exception) -> ConfigError | None:
    """An actor that refused to start (:meth:`TagAndStore._check`) reaches the driver as
    Ray's error around its traceback; the refusal's own message is the useful part."""
    marker = f"{ConfigError.__module__}.{ConfigError.__name__}: "
    text = str(exc)
    if marker not in text:
        return None
    return ConfigError(text.rsplit(marker, 1)[1].splitlines()[0].strip())


class RayJob(msgspec.Struct, kw_only=True, frozen=True):
    """What the driver hands to :func:`run_on_ray`: the files and what the CPU tasks need."""

    sources: SourceFiles
    image: ImageSettings  # the encoder's crop settings (the tasks load no model)
    palette: Palette
    store_id: str | None = None  # the OpenSearch cluster's uuid, as the driver reaches it


async def prepare_ray_job(settings: Settings, source: str) -> RayJob:
    """List the source and make sure the indices exist (before Ray starts)."""
    sources = find_sources(source)
    async with Runtime(settings) as runtime:
        await runtime.admin.init_indices()
        taxonomy = await runtime.taxonomy.current()
        store_id = (await runtime.store.info()).get("cluster_uuid")
        image = image_settings_without_weights(ModelSpec.parse(settings.model))
        if image is None:
            image = (await runtime.tagging.encoder()).image
    return RayJob(sources=sources, image=image, palette=taxonomy.palette, store_id=store_id)


def ingest_on_ray(
    settings: Settings,
    source: str,
    metadata: Mapping[str, RawMetadata],
    options: RayOptions,
) -> list[IngestOutcome]:
    """The whole Ray ingest (blocking; call it from the main thread, where Ray installs its
    signal handlers): outcomes sorted by file name; the writes are searchable on return."""
    _ray()  # before any work: say at once when the extra is missing
    job = asyncio.run(prepare_ray_job(settings, source))
    outcomes = run_on_ray(
        settings,
        job.sources,
        metadata,
        image=job.image,
        palette=job.palette,
        options=options,
        store_id=job.store_id,
    )
    asyncio.run(_refresh(settings))
    return sorted(outcomes, key=lambda o: o.name)


async def _refresh(settings: Settings) -> None:
    async with Runtime(settings) as runtime:
        await runtime.admin.make_searchable()
