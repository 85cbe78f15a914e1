// The quality page's tables: a chart's numbers, and the panels below the charts (review
// effort, the markers of the time axis, the head history). Each table's rows are exactly the API's.
import { el } from "./common.js";

const cell = (v) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : v ?? "–");

/** A table of `rows` (objects with the same keys, the columns), marked data-table=kind. */
export function table(rows, kind, attribute) {
  const columns = Object.keys(rows[0]);
  return el(
    "table",
    { "data-table": kind, "data-attribute": attribute },
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...columns.map((c) => el("td", { text: cell(r[c]) }))))),
  );
}

function panel(kind, title, rows, empty, attribute) {
  return el(
    "section",
    { class: "panel", "data-panel": kind, "aria-label": title },
    el("h2", { text: title }),
    rows.length ? table(rows, kind, attribute) : el("p", { class: "empty", text: empty }),
  );
}

/** The promotions and taxonomy applies drawn on the charts' time axes, oldest first. */
export function markersPanel(markers) {
  const rows = markers.map((m) => ({
    at: m.at,
    kind: m.kind,
    attribute: m.attribute ?? "all",
    version: m.version,
    label: m.label,
  }));
  return panel("markers", "Promotions and taxonomy changes", rows,
    "No head was promoted and no taxonomy applied in this window.");
}

/** The newest head events of the chosen attribute (or of all), newest first. */
export function headEventsPanel(events, attribute) {
  const rows = events.map((e) => ({
    at: e.at,
    attribute: e.attribute,
    step: e.step,
    actor: e.actor,
    version: e.version,
    champion: e.champion,
    reasons: e.reasons.join("; "),
    explanation: e.explanation,
  }));
  const whose = attribute ? `${attribute} heads` : "any head";
  // Not bound to the window: the newest steps, whenever they were taken.
  return panel("head-events", "Head history, newest first", rows,
    `Nothing has happened to ${whose} yet: no training, verdict or promotion.`, attribute || "");
}

const seconds = (s) => (s === null || s === undefined ? "–" : `${s.toFixed(1)} s`);

/** Decisions, active hours and time per decision of each reviewer, then everyone's ("all"),
 * and the median time per fully reviewed asset. */
export function effortPanel(effort) {
  const rows = [...effort.reviewers, effort.overall].map((r) => ({
    reviewer: r.reviewer,
    decisions: r.decisions,
    timedDecisions: r.timedDecisions,
    activeHours: r.activeHours,
    decisionsPerHour: r.decisionsPerHour,
    medianSecondsPerDecision: r.medianSecondsPerDecision,
  }));
  const box = panel("effort", "Review effort", effort.overall.decisions ? rows : [],
    "No reviewer decided a tag in this window.");
  box.append(el("p", {
    class: "per-asset",
    text: `Fully reviewed assets: ${effort.fullyReviewedAssets}; median time per asset ${seconds(effort.medianSecondsPerAsset)}.`,
  }));
  return box;
}
