// The quality page: per attribute, tiers over time, a reliability diagram, corrections per
// segment and audited precision by week (qualityReport on /graphql), each chart with its
// numbers as a table and CSV; promotions and taxonomy applies mark the time axes; below, the
// review effort, the markers and the newest head events (headEvents).
import { el, gql, say, signIn } from "./common.js";
import { HEAD_EVENTS, QUALITY_REPORT } from "./documents.js";
import {
  auditRows, auditsChart, correctionRows, correctionsChart, markersOf, reliabilityChart, reliabilityRows,
  tierRows, tiersChart, windowDays,
} from "./quality-charts.js";
import { effortPanel, headEventsPanel, markersPanel, table } from "./quality-tables.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["attribute", "dimension", "value", "since", "until"];
const HEAD_EVENTS_SHOWN = 20;
const state = {
  attributes: new Set(), // every attribute a report has named: the filter keeps offering them
  segments: new Map(), // dimension -> segment values the reports have named (value suggestions)
  latest: 0, // only the newest answer is shown: an older one may arrive after it
  csvUrls: [], // blob URLs of the CSV links shown, revoked when the report is replaced
};

/** A date input's day as a DateTime: `since` at its start, `until` at the end of its day. */
function instant(day, endOfDay) {
  if (!day) return null;
  if (!endOfDay) return `${day}T00:00:00Z`;
  const next = new Date(`${day}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return new Date(next.getTime() - 1).toISOString();
}

function variables() {
  const f = Object.fromEntries(FIELDS.map((name) => [name, $("filters").elements.namedItem(name).value.trim()]));
  return {
    attribute: f.attribute || null,
    segment: f.dimension && f.value ? { dimension: f.dimension, value: f.value } : null,
    since: instant(f.since, false),
    until: instant(f.until, true),
  };
}

/** Keep the filters in the address, so a view can be shared as a link. */
function rememberFilters() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = $("filters").elements.namedItem(name).value.trim();
    if (value) params.set(name, value);
  }
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function offerAttributes(report) {
  for (const a of report.attributes) state.attributes.add(a.attribute);
  const select = $("f-attribute");
  const chosen = select.value;
  const names = [...state.attributes].sort();
  select.replaceChildren(el("option", { value: "", text: "All" }), ...names.map((n) => el("option", { value: n, text: n })));
  select.value = chosen;
}

function offerSegments(report) {
  for (const c of report.attributes.flatMap((a) => a.corrections)) {
    const dimension = c.dimension.toUpperCase();
    if (!state.segments.has(dimension)) state.segments.set(dimension, new Set());
    state.segments.get(dimension).add(c.segment);
  }
  const values = state.segments.get($("f-dimension").value) || new Set();
  $("f-values").replaceChildren(...[...values].sort().map((v) => el("option", { value: v })));
}

function csvLink(rows, name) {
  const columns = Object.keys(rows[0]);
  const quote = (v) => (/[",\n]/.test(String(v ?? "")) ? `"${String(v).replaceAll('"', '""')}"` : String(v ?? ""));
  const lines = [columns.join(","), ...rows.map((r) => columns.map((c) => quote(r[c])).join(","))];
  const url = URL.createObjectURL(new Blob([`${lines.join("\n")}\n`], { type: "text/csv" }));
  state.csvUrls.push(url);
  return el("a", { href: url, download: `${name}.csv`, class: "csv", text: "CSV" });
}

function numbers(rows, kind, attribute) {
  return el("details", { class: "numbers" }, el("summary", { text: "Numbers" }), table(rows, kind, attribute));
}

function chartBox(kind, attribute, title, rows, draw, empty) {
  const box = el("figure", { class: "chart", "data-chart": kind, "data-attribute": attribute }, el("h3", { text: title }));
  if (!rows.length) {
    box.append(el("p", { class: "empty", text: empty }));
    return box;
  }
  box.append(draw(), el("div", { class: "chart-numbers" }, numbers(rows, kind, attribute), csvLink(rows, `${attribute}-${kind}`)));
  return box;
}

function attributeSection(a, report, days) {
  const name = a.attribute;
  const tiers = tierRows(a);
  const reliability = reliabilityRows(a);
  const corrections = correctionRows(a);
  const audits = auditRows(a);
  const markers = markersOf(report.markers, name);
  return el(
    "section",
    { class: "attribute", "data-attribute": name, "aria-label": name },
    el("h2", { text: name }),
    el(
      "div",
      { class: "charts" },
      chartBox("tiers", name, "Tiers over time", tiers, () => tiersChart(tiers, days, markers),
        `No ${name} tags were first seen in this window.`),
      chartBox("reliability", name, "Reliability", reliability, () => reliabilityChart(a, reliability),
        `Reviewers judged no machine ${name} proposal in this window: nothing to measure the confidence against.`),
      chartBox("corrections", name, "Corrections per segment", corrections, () => correctionsChart(corrections),
        `No reviewer decided a ${name} tag in this window.`),
      chartBox("audits", name, "Audited precision by week", audits,
        () => auditsChart(audits, markers, report.since, report.until),
        `No ${name} audit was answered in this window.`),
    ),
  );
}

function showWindow(report) {
  const day = (t) => t.slice(0, 10);
  $("window").textContent = `${day(report.since)} to ${day(report.until)}`;
}

function historyPanel(history, attribute) {
  if (history.__typename === "HeadEventsPage") return headEventsPanel(history.events, attribute);
  return el("p", { "data-kind": "error", text: `Head history: ${history.message}` });
}

function render(report, history, attribute) {
  for (const url of state.csvUrls.splice(0)) URL.revokeObjectURL(url);
  offerAttributes(report);
  offerSegments(report);
  showWindow(report);
  const days = windowDays(report.since, report.until);
  const sections = report.attributes.map((a) => attributeSection(a, report, days));
  if (!sections.length) sections.push(el("p", { class: "empty", text: "No attribute has data in this window." }));
  const panels = el("div", { class: "panels" },
    effortPanel(report.effort), markersPanel(report.markers), historyPanel(history, attribute));
  $("report").replaceChildren(...sections, panels);
}

async function load() {
  const attempt = ++state.latest;
  rememberFilters();
  say($("status"), "Loading…");
  const asked = variables();
  try {
    const [data, heads] = await Promise.all([
      gql(QUALITY_REPORT, asked),
      gql(HEAD_EVENTS, { attribute: asked.attribute, first: HEAD_EVENTS_SHOWN }),
    ]);
    if (attempt !== state.latest) return;
    const r = data.qualityReport;
    if (r.__typename !== "QualityReport") {
      say($("status"), [r.field, r.message].filter(Boolean).join(": "), "error");
      $("report").replaceChildren();
      delete $("report").dataset.variables;
      return;
    }
    render(r, heads.headEvents, asked.attribute);
    $("report").dataset.variables = JSON.stringify(asked); // what is shown (tests wait on it)
    say($("status"), "");
  } catch (exc) {
    if (attempt === state.latest) say($("status"), exc.message, "error");
  }
}

async function start() {
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) {
    if (params.has(name)) $("filters").elements.namedItem(name).value = params.get(name);
  }
  if (params.get("attribute")) {
    // Offered before any report names it, so the first query asks for it.
    state.attributes.add(params.get("attribute"));
    $("f-attribute").append(el("option", { value: params.get("attribute"), text: params.get("attribute") }));
    $("f-attribute").value = params.get("attribute");
  }
  await signIn($("auth"));
  $("filters").hidden = false;
  $("filters").addEventListener("change", load);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
  document.body.dataset.ready = "true";
}

start();
