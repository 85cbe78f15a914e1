"""Every benchmark runs end to end on a tiny input (``--smoke``) against the real node, so an
import or API change that breaks a benchmark fails the tests; and the runner records what
it should (median and spread, the machine, the noise guard)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# bench/ is a folder of scripts, not a package: load the runner from its file.
_spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert _spec is not None
assert _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


def _env(opensearch_url: str) -> dict[str, str]:
    return {**os.environ, "TAGTRAIL_OPENSEARCH_URL": opensearch_url, "TAGTRAIL_DEV": "1"}


def test_every_script_in_bench_is_a_benchmark_or_a_named_helper() -> None:
    scripts = {p.stem for p in BENCH.glob("*.py")}
    assert set(runner.benchmarks()) == scripts - runner.NOT_BENCHMARKS
    assert scripts >= runner.NOT_BENCHMARKS


@pytest.mark.parametrize("name", runner.benchmarks())
def test_benchmark_runs_on_a_tiny_input(name: str, opensearch_url: str, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--smoke", "--figures", str(out)],
        cwd=BENCH.parent,
        env=_env(opensearch_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    figures = json.loads(out.read_text())
    assert figures["bench"] == name
    assert figures["figures"], "no figure measured"
    purpose = [f for f in figures["figures"].values() if f["ratio"] or f["target"] is not None]
    assert purpose, "neither a ratio nor a target: what does it exist for?"


def test_colour_accuracy_uniform_set_runs_on_a_tiny_input(
    opensearch_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "colour_accuracy.py"),
            "--smoke",
            "--uniform",
            "--figures",
            str(out),
        ],
        cwd=BENCH.parent,
        env=_env(opensearch_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "uniform colours, seed 500" in done.stdout
    for margin in ("< 1 ΔE", "1–3 ΔE", "≥ 3 ΔE"):
        assert margin in done.stdout
    figures = json.loads(out.read_text())["figures"]
    assert figures["uniform auto tier share"]["target"] == 0.8
    assert figures["uniform auto tier precision"]["target"] == 0.98
    assert "exact colour" not in figures  # the swatch set's figures are not mixed in


def _run(opensearch_url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "colour_accuracy",
            "--smoke",
            "--runs",
            "3",
            "--out",
            str(tmp_path / "benchmarks"),
            *extra,
        ],
        env=_env(opensearch_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_runner_records_median_spread_and_machine(opensearch_url: str, tmp_path: Path) -> None:
    quiet = tmp_path / "loadavg"
    quiet.write_text("0.10 0.20 0.30 1/100 42\n")
    done = _run(opensearch_url, tmp_path, "--load-file", str(quiet))
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = (tmp_path / "benchmarks" / "results").glob("*.json")
    result = json.loads(result_file.read_text())
    assert result["machine"]["cores"] >= 1
    assert result["machine"]["matmul_fp32_gflops"] > 0
    assert len(result["commit"]) >= 40
    bench = result["benchmarks"]["colour_accuracy"]
    assert [r["load_before"] for r in bench["runs"]] == [0.1, 0.1, 0.1]
    wall = bench["figures"]["analyser wall"]
    values = [r["figures"]["analyser wall"]["value"] for r in bench["runs"]]
    assert wall["runs"] == 3
    assert (wall["min"], wall["median"], wall["max"]) == (
        min(values),
        sorted(values)[1],
        max(values),
    )
    assert bench["figures"]["exact colour"]["ratio"] is True
    table = result_file.with_suffix(".md").read_text()
    assert "| colour_accuracy | **exact colour** |" in table
    assert "matmul" in table
    # A smoke run proves the runner works; it is not a result the docs page shows, and the
    # page says which benchmarks have no recorded result.
    page = (tmp_path / "benchmarks.md").read_text()
    assert "## colour_accuracy" not in page
    assert "No result recorded yet: " in page
    assert "colour_accuracy" in page.split("No result recorded yet: ")[1].split("\n")[0]


def test_noise_guard_refuses_runs_on_a_busy_machine(opensearch_url: str, tmp_path: Path) -> None:
    busy = tmp_path / "loadavg"
    busy.write_text("5.00 4.00 3.00 9/100 42\n")
    done = _run(opensearch_url, tmp_path, "--load-file", str(busy), "--settle", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = (tmp_path / "benchmarks" / "results").glob("*.json")
    bench = json.loads(result_file.read_text())["benchmarks"]["colour_accuracy"]
    assert bench["figures"] == {}
    assert all("load 5.00 above 1.0" in r["refused"] for r in bench["runs"])
    assert "no run recorded: load 5.00 above 1.0" in result_file.with_suffix(".md").read_text()

    marked = _run(
        opensearch_url, tmp_path, "--load-file", str(busy), "--settle", "0", "--allow-noisy"
    )
    assert marked.returncode == 0, marked.stderr[-3000:]
    newest = max((tmp_path / "benchmarks" / "results").glob("*.json"))
    bench = json.loads(newest.read_text())["benchmarks"]["colour_accuracy"]
    assert all(r["noisy"] for r in bench["runs"])
    assert bench["figures"]["analyser wall"]["runs"] == 3
    assert "noisy runs marked" in newest.with_suffix(".md").read_text()
