"""Heads and audits: train, evaluate, promote, shadow, list; audit rounds."""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from tagtrail.config import Settings
from tagtrail.usecases.runtime import Runtime

log = logging.getLogger("tagtrail")


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _pair(old: Any, new: Any, name: str) -> str:
    before = getattr(old, name) if old is not None else None
    return f"{_cell(before)}→{_cell(getattr(new, name))}"


def segment_table(evaluation: Any) -> list[str]:
    """A readable per-segment table: champion → candidate accuracy, macro-F1 and ECE, and the
    candidate's auto-tier precision with its Wilson 95 % interval."""
    champion = {s.segment: s for s in evaluation.champion.segments}
    lines = [f"{'segment':<32} {'n':>5} {'accuracy':>11} {'macro-F1':>11} {'ECE':>11} auto tier"]
    for seg in evaluation.candidate.segments:
        old = champion.get(seg.segment)
        auto = (
            "–"
            if seg.auto_precision is None
            else (
                f"{seg.auto_precision:.2f} [{seg.auto_low:.2f}, {seg.auto_high:.2f}] n={seg.auto_n}"
            )
        )
        cells = [_pair(old, seg, "accuracy"), _pair(old, seg, "macro_f1"), _pair(old, seg, "ece")]
        lines.append(
            f"{seg.segment[:32]:<32} {seg.n:>5} {cells[0]:>11} {cells[1]:>11} {cells[2]:>11} {auto}"
        )
    return lines


def evaluation_table(result: Any) -> list[str]:
    """The segment table of a head, or the before/after of a colour calibration."""
    if result.evaluation is not None:
        return segment_table(result.evaluation)
    c = result.calibration
    lines = [f"colour calibration, {c.n} reviewer decisions ({c.n_right} right), {c.method}"]
    for name, t in (("in force", c.current), ("candidate", c.candidate)):
        auto = "–" if t.auto_precision is None else f"{t.auto_precision:.3f}"
        lines.append(
            f"{name:<10} {t.version:<18} ECE {t.ece:.4f}  auto tier {t.auto_share:.1%} "
            f"precision {auto}"
        )
    return lines


async def heads(settings: Settings, args: Any) -> int:
    """``tagtrail heads train|evaluate|promote|list|events``: JSON lines, then summaries."""
    async with Runtime(settings) as runtime:
        heads = runtime.heads
        match args.action:
            case "train":
                log.info("training %s from reviewer decisions", args.attribute)
                trained = await heads.train(args.attribute, actor=args.actor)
                print(msgspec.json.encode(trained).decode())
                print(f"challenger {trained.version} ({trained.n_examples} examples)")
                _summary(evaluation_table(trained), trained.gate)
            case "evaluate":
                evaluated = await heads.evaluate(args.attribute, args.head_version)
                print(msgspec.json.encode(evaluated).decode())
                print(f"{evaluated.version} vs champion {evaluated.champion or 'zero-shot'}")
                _summary(evaluation_table(evaluated), evaluated.gate)
                if evaluated.evaluation is not None:
                    await _shadow(runtime, args.attribute, evaluated.version)
            case "promote":
                result = await heads.promote(
                    args.attribute,
                    args.head_version,
                    actor=args.actor,
                    force=args.force,
                    note=args.note,
                )
                print(msgspec.json.encode(result).decode())
                for reason in result.reasons:
                    print(f"  {reason}")
                return 0 if result.promoted else 1
            case "events":
                if args.tick:
                    for event in await runtime.cadence.tick():
                        log.info("cadence: %s", event.explanation())
                page = await runtime.head_history.events(first=args.first, attribute=args.attribute)
                for event in page.events:
                    print(msgspec.json.encode(event).decode())
                    print(f"  {event.at} {event.explanation()}")
            case "list":
                for info in await heads.versions(args.attribute):
                    print(
                        msgspec.json.encode(
                            msgspec.structs.replace(info, evaluation=None, calibration=None)
                        ).decode()
                    )
    return 0


async def _shadow(runtime: Runtime, attribute: str, version: str) -> None:
    r = await runtime.shadow.challenger_agreement(attribute, version)
    if r.n == 0:
        print("shadow mode: no reviewer decisions since it was trained yet")
        return
    print(
        f"shadow mode: {r.n} reviewer decisions since it was trained ({r.computed} on photos "
        f"tagged before it); challenger agreed {r.challenger_agreement:.2f} "
        f"[{r.challenger_low:.2f}, {r.challenger_high:.2f}], champion {r.champion_agreement:.2f} "
        f"[{r.champion_low:.2f}, {r.champion_high:.2f}]"
    )


def _summary(table: list[str], decision: Any) -> None:
    for line in table:
        print(line)
    if getattr(decision, "evaluation_stream", ""):
        print(f"scored on: {decision.evaluation_stream}")
    verdict = "would promote" if decision.promote else "gate refuses"
    print(f"{verdict}:")
    for reason in decision.reasons:
        print(f"  {reason}")


async def audit(settings: Settings, args: Any) -> int:
    """``tagtrail audit sample|report``: JSON lines for the report, one per attribute × tier,
    per attribute × tier × novelty, then per stratum."""
    async with Runtime(settings) as runtime:
        if args.action == "sample":
            sampled = await runtime.audits.sample(
                round=args.round,
                attribute=args.attribute,
                target=args.target,
                novelty=args.novelty,
            )
            print(msgspec.json.encode(sampled).decode())
        else:
            report = await runtime.audits.report(
                round=args.round, attribute=args.attribute, target=args.target
            )
            for row in (*report.totals, *report.novelty, *report.strata):
                print(msgspec.json.encode(row).decode())
    return 0
