"""Run benchmarks with their default arguments, three times each, and record the results.

    python bench/run.py [NAMES ...] [--runs 3] [--max-load 1.0] [--settle 120] [--allow-noisy]
                        [--out docs/benchmarks] [--smoke]

Each benchmark (a script in ``bench/``) runs ``--runs`` times in its own interpreter, with
its defaults, writing its figures (see ``bench/figures.py``). The runner writes one results
file per run set under ``--out``/results (``<UTC time>-<commit>.json`` and ``.md``): per figure
the median and the spread (min–max) of the runs, the ratios each benchmark exists for, the
git commit, and the machine (CPU model, cores, memory, torch/ONNX Runtime/numpy versions, and
a float32 matmul GFLOP/s measured at the start, so an absolute figure can be read against its
machine). It then regenerates ``--out``/../benchmarks.md: the newest result of every benchmark.

Noise guard: before each run the runner waits (up to ``--settle`` seconds) for the 1-minute
load average to fall to ``--max-load``; a run that still starts above it is not recorded
(``--allow-noisy``: recorded, and marked with the load it saw). Every run's starting load is
in the results. A benchmark that fails (exit status other than 0, or 1 with figures: a
missed target) is reported with the tail of its output, and the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NOT_BENCHMARKS = {"figures", "run", "serving"}  # helpers of the benchmarks


def benchmarks() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in NOT_BENCHMARKS)


def load_average(path: Path) -> float:
    return float(path.read_text().split()[0])


def matmul_gflops() -> float:
    """float32 matmul speed of this machine, as torch runs it (best of five 2048² products)."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _version(module: str) -> str | None:
    try:
        return str(__import__(module).__version__)
    except ImportError:
        return None


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "matmul_fp32_gflops": round(matmul_gflops(), 1),
    }


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return (head or "unknown") + ("+changes" if dirty else "")


def wait_for_quiet(args: argparse.Namespace) -> float:
    """The load when the run may start: at or below ``max_load``, or what it was at the end
    of the settling time."""
    deadline = time.monotonic() + args.settle
    load = load_average(args.load_file)
    while load > args.max_load and time.monotonic() < deadline:
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        load = load_average(args.load_file)
    return load


def one_run(name: str, args: argparse.Namespace) -> dict[str, Any]:
    load = wait_for_quiet(args)
    run: dict[str, Any] = {"load_before": load, "noisy": load > args.max_load}
    if run["noisy"] and not args.allow_noisy:
        run["refused"] = f"load {load:.2f} above {args.max_load} after {args.settle} s"
        return run
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, str(BENCH / f"{name}.py"), "--figures", str(out)]
        command += ["--smoke"] if args.smoke else []
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        run["seconds"] = round(time.perf_counter() - started, 1)
        run["exit"] = done.returncode
        if out.exists():
            run["figures"] = json.loads(out.read_text())["figures"]
        if done.returncode not in (0, 1) or "figures" not in run:
            run["error"] = (done.stdout + done.stderr)[-2000:]
    return run


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread of every figure over the recorded runs."""
    recorded = [r for r in runs if "figures" in r]
    names: dict[str, dict[str, Any]] = {}
    for run in recorded:
        for figure, info in run["figures"].items():
            names.setdefault(figure, {**info, "values": []})["values"].append(info["value"])
    for info in names.values():
        values = info.pop("values")
        info.pop("value", None)
        info |= {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "runs": len(values),
        }
    return names


def markdown_of(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Commit `{result['commit'][:12]}`, {result['finished']}. Machine: {m['cpu']}, "
        f"{m['cores']} cores, {m['memory_gib']} GiB; float32 matmul {m['matmul_fp32_gflops']} "
        f"GFLOP/s; torch {m['torch']}, ONNX Runtime {m['onnxruntime'] or 'not installed'}, "
        f"numpy {m['numpy']}.",
        "",
        "| benchmark | figure | median | spread (min–max) | runs | target |",
        "|---|---|---|---|---|---|",
    ]
    for name, bench in result["benchmarks"].items():
        loads = ", ".join(f"{r['load_before']:.2f}" for r in bench["runs"])
        problems = [r.get("refused") or "failed" for r in bench["runs"] if "figures" not in r]
        if not bench["figures"]:
            lines.append(f"| {name} | no run recorded: {'; '.join(problems)} | | | 0 | |")
            continue
        for figure, f in sorted(bench["figures"].items(), key=lambda kv: not kv[1]["ratio"]):
            shown = f"**{figure}**" if f["ratio"] else figure
            target = "" if f["target"] is None else ("≥ " if f["better"] == "higher" else "≤ ")
            target += "" if f["target"] is None else f"{f['target']:g}"
            lines.append(
                f"| {name} | {shown} | {f['median']:.4g} {f['unit']} | "
                f"{f['min']:.4g}–{f['max']:.4g} | {f['runs']} | {target} |"
            )
        noisy = " (noisy runs marked)" if any(r["noisy"] for r in bench["runs"]) else ""
        lines.append(f"| {name} | *load before each run: {loads}{noisy}* | | | | |")
    lines += ["", "Ratios (bold) are measured within one run; they travel between machines."]
    return "\n".join(lines) + "\n"


def latest_page(out: Path) -> str:
    """benchmarks.md: for every benchmark, its newest recorded result."""
    newest: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted((out / "results").glob("*.json")):
        result = json.loads(path.read_text())
        if result["smoke"]:
            continue  # tiny inputs prove a benchmark runs; they are not its numbers
        for name, bench in result["benchmarks"].items():
            if bench["figures"]:
                newest[name] = (path.stem, {**result, "benchmarks": {name: bench}})
    parts = [
        "# Benchmarks\n\nGenerated by `python bench/run.py` (three runs of each benchmark with "
        "its default arguments; median and spread). Do not edit by hand: re-run the runner.\n"
    ]
    missing = [name for name in benchmarks() if name not in newest]
    if missing:
        parts.append(f"No result recorded yet: {', '.join(missing)}.\n")
    for name in sorted(newest):
        stem, result = newest[name]
        parts.append(f"## {name}\n\nFrom `results/{stem}.json`. {markdown_of(result)}")
    return "\n".join(parts)


def save(result: dict[str, Any], out: Path, stem: str) -> None:
    """Write the run set's results (JSON and Markdown) and regenerate the latest page."""
    result["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "results" / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "results" / f"{stem}.md").write_text(markdown_of(result))
    (out.parent / f"{out.name}.md").write_text(latest_page(out))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"default: all of {', '.join(benchmarks())}")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-load", type=float, default=1.0, help="1-minute load average")
    p.add_argument("--settle", type=float, default=120.0, help="seconds to wait for quiet")
    p.add_argument("--allow-noisy", action="store_true", help="record noisy runs, marked")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    p.add_argument("--smoke", action="store_true", help="tiny inputs (tests the runner itself)")
    p.add_argument("--load-file", type=Path, default=Path("/proc/loadavg"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = sorted(set(args.names) - set(benchmarks()))
    if unknown:
        p.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(benchmarks())})")
    if not 1 <= args.runs <= 20:
        p.error("--runs must be 1..20")
    result: dict[str, Any] = {
        "commit": commit(),
        "machine": machine(),
        "smoke": args.smoke,
        "max_load": args.max_load,
        "benchmarks": {},
    }
    stem = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + result["commit"][:12]
    failed = []
    for name in args.names or benchmarks():
        runs = []
        for i in range(args.runs):
            run = one_run(name, args)
            runs.append(run)
            status = run.get("refused") or run.get("error", "")[-300:] or "ok"
            print(
                f"{name} run {i + 1}/{args.runs}: load {run['load_before']:.2f}, "
                f"{run.get('seconds', 0)} s: {status}",
                file=sys.stderr,
            )
        if any("error" in r for r in runs):
            failed.append(name)
        result["benchmarks"][name] = {"runs": runs, "figures": summarise(runs)}
        save(result, args.out, stem)  # after each benchmark: a long set cut off keeps its part
    print(markdown_of(result))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
