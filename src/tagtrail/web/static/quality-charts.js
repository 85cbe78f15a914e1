// The quality page's four charts, drawn with Observable Plot (the UMD build in
// /static/vendor sets the global Plot). Each chart has a `rows` function giving exactly the
// rows it plots, so its "Numbers" table and CSV show the same data as its marks.

const Plot = globalThis.Plot;

export const TIERS = ["auto_applied", "flagged", "suggested"];
const TIER_FIELDS = { auto_applied: "autoApplied", flagged: "flagged", suggested: "suggested" };
const TIER_COLOURS = ["#116329", "#f4b400", "#8c959f"];
const WIDTH = 640;

const pct = (p) => (p === null || p === undefined ? "–" : `${(p * 100).toFixed(1)} %`);
const num = (x, digits = 3) => (x === null || x === undefined ? "–" : x.toFixed(digits));

/** One row per (day, tier) with tags in it: {day, tier, count, share}. */
export function tierRows(attribute) {
  return attribute.tiersByDay.flatMap((d) =>
    TIERS.map((tier) => ({
      day: d.day,
      tier,
      count: d[TIER_FIELDS[tier]],
      share: d.total ? d[TIER_FIELDS[tier]] / d.total : 0,
    })).filter((r) => r.count > 0),
  );
}

/** The reliability bins that hold tags (a bin with n = 0 has no point to place). */
export function reliabilityRows(attribute) {
  return attribute.reliability.bins
    .filter((b) => b.n > 0)
    .map((b) => ({
      lo: b.lo, hi: b.hi, n: b.n, right: b.right, meanConfidence: b.meanConfidence, observedRate: b.observedRate,
    }));
}

/** One row per (dimension, segment), in the API's order (worst first). */
export function correctionRows(attribute) {
  return attribute.corrections.map((c) => ({
    dimension: c.dimension,
    segment: c.segment,
    decided: c.decided,
    corrected: c.corrected,
    rate: c.rate,
    low: c.low,
    high: c.high,
  }));
}

/** One row per (week, tier) with audits answered, in the API's order. */
export function auditRows(attribute) {
  return attribute.audits.map((w) => ({
    week: w.week,
    tier: w.tier,
    answered: w.answered,
    correct: w.correct,
    precision: w.precision,
    low: w.low,
    high: w.high,
  }));
}

/** The markers that concern `attribute` (a taxonomy apply, attribute null, concerns all). */
export function markersOf(markers, attribute) {
  return markers.filter((m) => m.attribute === null || m.attribute === attribute);
}

const MARKER_STYLES = {
  promotion: { stroke: "#0b57d0" },
  taxonomy: { stroke: "#8250df", strokeDasharray: "5 3" },
};

/** A vertical rule per marker at `x(marker)`, one mark per kind (class "marker <kind>"),
 * the marker's label as its tooltip. */
function markerRules(markers, x) {
  return Object.entries(MARKER_STYLES).map(([kind, style]) =>
    Plot.ruleX(
      markers.filter((m) => m.kind === kind),
      { x, ...style, strokeWidth: 1.5, title: "label", className: `marker ${kind}` },
    ),
  );
}

/** Says what the marker rules are, when a chart has any. */
function markerCaption(markers) {
  if (!markers.length) return undefined;
  return "Vertical lines: head promotions (solid blue) and taxonomy applies (dashed purple); hover for which.";
}

/** Ticks for a band axis of days: at most about 10 labels, whatever the window's length. */
function dayTicks(days) {
  const step = Math.max(1, Math.ceil(days.length / 10));
  return days.filter((_, i) => i % step === 0);
}

/** Every UTC day from `since` to `until` (the API lists only days with tags; a day without
 * any should show as a gap, not vanish from the time axis). */
export function windowDays(since, until) {
  const days = [];
  const day = new Date(`${since.slice(0, 10)}T00:00:00Z`);
  const last = until.slice(0, 10);
  while (days.length < 400) {
    const iso = day.toISOString().slice(0, 10);
    if (iso > last) break;
    days.push(iso);
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return days;
}

export function tiersChart(rows, days, markers) {
  return Plot.plot({
    width: WIDTH,
    height: 240,
    marginBottom: 40,
    caption: markerCaption(markers),
    x: { type: "band", domain: days, ticks: dayTicks(days), tickFormat: (d) => d.slice(5), label: "day" },
    y: { grid: true, label: "tags" },
    color: { domain: TIERS, range: TIER_COLOURS, legend: true, tickFormat: (t) => t.replace("_", " ") },
    marks: [
      Plot.barY(rows, {
        x: "day",
        y: "count",
        fill: "tier",
        order: TIERS,
        title: (r) => `${r.day} · ${r.tier.replace("_", " ")}: ${r.count} (${pct(r.share)} of the day)`,
      }),
      Plot.ruleY([0]),
      ...markerRules(markers, (m) => m.at.slice(0, 10)),
    ],
  });
}

export function reliabilityChart(attribute, rows) {
  const { n, ece } = attribute.reliability;
  return Plot.plot({
    width: 360,
    height: 360,
    x: { domain: [0, 1], label: "mean confidence", grid: true },
    y: { domain: [0, 1], label: "observed rate", grid: true },
    r: { range: [2, 12] },
    caption: `ECE ${num(ece)} · n ${n}`,
    marks: [
      Plot.line([[0, 0], [1, 1]], { stroke: "#8c959f", strokeDasharray: "4 3" }),
      Plot.line(rows, { x: "meanConfidence", y: "observedRate", stroke: "#0b57d0" }),
      Plot.dot(rows, {
        x: "meanConfidence",
        y: "observedRate",
        r: "n",
        fill: "#0b57d0",
        title: (r) =>
          `confidence ${num(r.lo, 2)}–${num(r.hi, 2)}: ${r.right} kept of ${r.n}, ` +
          `mean ${num(r.meanConfidence)}, observed ${num(r.observedRate)}`,
      }),
    ],
  });
}

export const segmentLabel = (r) => `${r.dimension.toLowerCase().replace("_", " ")}: ${r.segment}`;

export function correctionsChart(rows) {
  return Plot.plot({
    width: WIDTH,
    height: 40 + 24 * rows.length,
    marginLeft: 180,
    x: { domain: [0, 1], label: "correction rate (Wilson 95 % interval)", grid: true, tickFormat: "%" },
    y: { domain: rows.map(segmentLabel), label: null },
    marks: [
      Plot.link(rows, { x1: "low", x2: "high", y: segmentLabel, stroke: "#5b6470", strokeWidth: 2 }),
      Plot.dot(rows, {
        x: "rate",
        y: segmentLabel,
        fill: "#a40e26",
        r: 4,
        title: (r) =>
          `${segmentLabel(r)}: ${r.corrected} corrected of ${r.decided} (${pct(r.rate)}, ` +
          `${pct(r.low)}–${pct(r.high)})`,
      }),
    ],
  });
}

const DAY_MS = 86_400_000;
const weekStart = (r) => Date.parse(`${r.week}T00:00:00Z`);

/** A tier's audits sit on a day of their week of their own (Tuesday, Thursday, Saturday),
 * so the tiers of one week do not hide each other. */
const auditX = (r) => new Date(weekStart(r) + (1 + 2 * TIERS.indexOf(r.tier)) * DAY_MS);

export function auditsChart(rows, markers, since, until) {
  // The window, widened to whole weeks: a week's dots may fall before `since` or after `until`.
  const from = Math.min(Date.parse(since), ...rows.map(weekStart));
  const to = Math.max(Date.parse(until), ...rows.map((r) => weekStart(r) + 7 * DAY_MS));
  return Plot.plot({
    width: WIDTH,
    height: 240,
    marginBottom: 40,
    caption: markerCaption(markers),
    x: { type: "utc", domain: [new Date(from), new Date(to)], label: "week" },
    y: { domain: [0, 1], label: "audited precision (Wilson 95 % interval)", grid: true, tickFormat: "%" },
    color: { domain: TIERS, range: TIER_COLOURS, legend: true, tickFormat: (t) => t.replace("_", " ") },
    marks: [
      ...markerRules(markers, (m) => new Date(m.at)),
      Plot.ruleX(rows, { x: auditX, y1: "low", y2: "high", stroke: "tier", strokeWidth: 2, className: "interval" }),
      Plot.dot(rows, {
        x: auditX,
        y: "precision",
        fill: "tier",
        r: 4,
        title: (r) =>
          `week of ${r.week} · ${r.tier.replace("_", " ")}: ${r.correct} right of ${r.answered} answered, ` +
          `precision ${pct(r.precision)} (${pct(r.low)}–${pct(r.high)})`,
      }),
    ],
  });
}
