// Review by asset: the review page's second mode. The queue's assets one at a time (the same
// queue, filters and order as the grid), the photo large, every queued tag of the asset a row.
// Decisions are the grid's single mutations with expectedRevision (and shownMs: how long the
// row was current); "confirm all" is one mutation per row in order, because confirmTags
// decides one attribute across assets, not several attributes of one asset.
import { el, fmtProb, gql, say, showThumbnail, swatch } from "./common.js";
import { explain } from "./explain.js";
import { ASSET_TAGS, DECIDE, REOPEN } from "./documents.js";
import { fetchQueue, stillQueued } from "./queues.js";
import { attributeFor, chooseValue } from "./typeahead.js";

const PAGE = 20; // assets per queue page
const MAX_SHOWN_MS = 86_400_000; // the API takes 0 to a day

/** The queue's cards grouped by asset, in queue order: one row per card. */
function byAsset(cards) {
  const assets = new Map();
  for (const c of cards) {
    if (!assets.has(c.assetId)) {
      assets.set(c.assetId, { id: c.assetId, revision: c.revision, sku: c.sku, brand: c.brand,
        collection: c.collection, thumbnail: c.thumbnail, rows: [], row: 0, finished: false });
    }
    assets.get(c.assetId).rows.push({ key: c.key, attribute: c.attribute, slot: c.slot, tag: c.tag, audit: c.audit, outcome: null });
  }
  return [...assets.values()];
}

/** `total` ms shared out over `n` decisions (the sum kept): confirm-all times them together. */
function shares(total, n) {
  const each = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => (i === 0 ? total - each * (n - 1) : each));
}

const pending = (row) => !row.outcome;
const nameOf = (asset) => asset.sku || asset.id.slice(0, 8);

export class AssetReview {
  /** `page`: {root, status, counter, dialog, panel, canDecide(), taxonomy(), revisions} of the
   * review page; `revisions` (asset id -> the newest revision the page knows) is shared. */
  constructor(page) {
    this.page = page;
    this.active = false;
    this.decided = new Map(); // row key -> the revision its decision here made
    this.choosing = false; // the correction dialog is opening or open
    this.chain = Promise.resolve();
    this.reset(null);
  }

  reset(query) {
    this.query = query;
    this.assets = [];
    this.index = 0;
    this.cursor = null;
    this.hasNext = false;
    this.total = 0;
    this.done = 0; // assets of the queue with every row decided
    this.seen = new Set(); // asset ids shown: never twice (an audit round is asked again)
    this.history = []; // undo stack: {kind, asset, rows}
    this.since = performance.now(); // when the current row became current
  }

  /** Keys apply one after another, in the order pressed, even while an answer is on its way. */
  enqueue(action) {
    this.chain = this.chain.then(action).catch((exc) => say(this.page.status, exc.message, "error"));
    return this.chain;
  }

  /** Load the queue `query` (its first page `first`, when already asked for). */
  open(query, first = null) {
    return this.enqueue(async () => {
      this.reset(query);
      say(this.page.status, "Loading…");
      try {
        await this.take(await (first || fetchQueue(query, null, PAGE)));
        say(this.page.status, "");
      } catch (exc) {
        say(this.page.status, exc.message, "error");
      }
      this.render();
      this.page.root.focus();
    });
  }

  async take(q) {
    if (q.total !== null || !this.assets.length) this.total = q.total;
    this.cursor = q.cursor || this.cursor;
    this.hasNext = q.hasNext;
    const fresh = byAsset(q.cards).filter((a) => !this.seen.has(a.id));
    for (const a of fresh) this.seen.add(a.id);
    for (const a of fresh) if (a.revision < (this.page.revisions.get(a.id) ?? 0)) await this.reload(a);
    const open = fresh.filter((a) => a.rows.some(pending));
    this.done += fresh.length - open.length; // decided in the grid a moment ago (search lags)
    this.assets.push(...open);
    return open.length > 0;
  }

  /** Whether the grid's `card` is older than a decision made here: search lags a second. */
  stale(card) {
    return (this.decided.get(card.key) ?? -1) > card.revision;
  }

  setRevision(asset, revision) {
    asset.revision = revision;
    this.page.revisions.set(asset.id, revision);
  }

  /** The queue's next page; an audit round (no cursor) is asked again, the assets seen skipped. */
  async more() {
    if (!this.hasNext) return false;
    const audit = this.query.mode === "AUDIT";
    return this.take(await fetchQueue(this.query, audit ? null : this.cursor, PAGE));
  }

  current() {
    return this.assets[this.index] || null;
  }

  currentRow() {
    const asset = this.current();
    return asset ? asset.rows[asset.row] : null;
  }

  elapsed() {
    return Math.max(0, Math.min(Math.round(performance.now() - this.since), MAX_SHOWN_MS));
  }

  setRow(asset, index) {
    asset.row = Math.max(0, Math.min(asset.rows.length - 1, index));
    this.since = performance.now();
  }

  moveRow(step) {
    const asset = this.current();
    if (!asset) return;
    this.setRow(asset, asset.row + step);
    this.render();
  }

  async moveAsset(step) {
    let target = this.index + step;
    if (target >= this.assets.length) await this.more();
    target = Math.max(0, Math.min(this.assets.length - 1, target));
    this.show(target);
  }

  show(index) {
    this.index = index;
    const asset = this.current();
    if (asset) this.setRow(asset, Math.max(asset.rows.findIndex(pending), 0));
    this.render();
  }

  /** After an asset's last row is decided: the next asset with a row left (asked for when
   * none is loaded), or an empty view. */
  async next() {
    for (;;) {
      const at = this.assets.findIndex((a, i) => i > this.index && a.rows.some(pending));
      if (at >= 0) return this.show(at);
      if (!(await this.more())) break;
    }
    this.index = this.assets.length;
    this.render();
  }

  canDecide() {
    return this.page.canDecide();
  }

  input(asset, row, value, shownMs) {
    const input = { assetId: asset.id, attribute: row.attribute, expectedRevision: asset.revision, shownMs };
    if (row.slot) input.slot = row.slot;
    if (value !== null) input.value = value;
    return input;
  }

  /** One decision on one row: null when written, else what went wrong (a conflict reloads the
   * asset first). */
  async decideRow(asset, row, kind, value, shownMs) {
    const r = (await gql(DECIDE[kind], { input: this.input(asset, row, value, shownMs) })).result;
    if (r.__typename === "TagDecision") {
      this.setRevision(asset, r.revision);
      this.decided.set(row.key, r.revision);
      row.outcome = kind;
      row.value = r.event.toValue;
      return null;
    }
    if (r.__typename === "Conflict") return `Conflict: ${r.message} ${await this.reload(asset, row)}`;
    return r.message;
  }

  /** Show the asset as it is now; rows decided elsewhere say by whom. Answers what it did. */
  async reload(asset, row = null) {
    const data = await gql(ASSET_TAGS, { id: asset.id, attributes: this.query.variables.attributes });
    const now = data.asset;
    if (now.__typename !== "Asset") {
      for (const r of asset.rows.filter(pending)) r.outcome = "gone";
      return "The asset is gone.";
    }
    this.setRevision(asset, now.revision);
    for (const r of asset.rows.filter(pending)) {
      const tag = now.tags.find((t) => t.attribute === r.attribute && (t.slot || null) === r.slot);
      r.tag = tag || r.tag;
      if (!stillQueued(this.query.mode, tag)) r.outcome = tag ? `${tag.state} by ${tag.decidedBy}` : "gone";
    }
    asset.conflict = true;
    if (row && row.outcome) return `${row.attribute} is now ${row.outcome}; reloaded at revision ${now.revision}.`;
    return `Reloaded at revision ${now.revision}: decide again.`;
  }

  async decide(kind, value = null) {
    const asset = this.current();
    const row = this.currentRow();
    if (!this.canDecide() || !row) return;
    if (!pending(row)) {
      say(this.page.status, `${row.attribute} is already ${row.outcome} (u undoes)`);
      return;
    }
    const failed = await this.decideRow(asset, row, kind, value, this.elapsed());
    if (failed) return this.after(asset, failed);
    this.history.push({ kind, asset, rows: [row] });
    say(this.page.status, `${kind} ${row.attribute} of ${nameOf(asset)} (u undoes)`, "ok");
    await this.after(asset);
  }

  /** Confirm every row left, in order, each at the revision the previous answered; stops at
   * the first refusal and says which. */
  async confirmAll() {
    const asset = this.current();
    if (!this.canDecide() || !asset) return;
    const rows = asset.rows.filter(pending);
    if (!rows.length) return;
    const times = shares(this.elapsed(), rows.length);
    const done = [];
    let failed = null;
    for (const [i, row] of rows.entries()) {
      asset.row = asset.rows.indexOf(row);
      failed = await this.decideRow(asset, row, "confirmed", null, times[i]);
      if (failed) break;
      done.push(row);
    }
    if (done.length) this.history.push({ kind: "confirmed", asset, rows: done });
    const what = `confirmed ${done.length} of ${rows.length} tags of ${nameOf(asset)}`;
    if (failed) return this.after(asset, `${what}; stopped at ${asset.rows[asset.row].attribute}: ${failed}`);
    say(this.page.status, `${what} (u undoes)`, "ok");
    await this.after(asset);
  }

  /** After a decision (or a refusal, `failed`): the next row left, or the next asset. */
  async after(asset, failed = null) {
    if (failed) say(this.page.status, failed, "error");
    if (asset.rows.some(pending)) {
      const after = asset.rows.findIndex((r, i) => i > asset.row && pending(r));
      if (!failed || !pending(asset.rows[asset.row])) this.setRow(asset, after >= 0 ? after : asset.rows.findIndex(pending));
      return this.render();
    }
    if (!asset.finished) this.done += 1;
    asset.finished = true;
    await this.next();
  }

  /** Undo the last decision (all the rows of a confirm-all): reopenTags appends an event that
   * puts each tag back as it was; the asset is shown again with the row current. */
  async undo() {
    if (!this.canDecide()) return;
    const last = this.history.pop();
    if (!last) return say(this.page.status, "Nothing to undo.");
    const { asset } = last;
    const refused = [];
    const restored = [];
    for (const row of last.rows) {
      const message = await this.reopen(asset, row, last.kind);
      if (message) refused.push(`${row.attribute}: ${message}`);
      else restored.push(row);
    }
    if (restored.length && asset.finished) {
      asset.finished = false;
      this.done -= 1;
    }
    this.index = this.assets.indexOf(asset);
    if (restored.length) this.setRow(asset, asset.rows.indexOf(restored[0]));
    const what = `Undone: ${last.kind} of ${restored.length} tag${restored.length === 1 ? "" : "s"} of ${nameOf(asset)}`;
    say(this.page.status, refused.length ? `${what}; not undone: ${refused.join("; ")}` : what, refused.length ? "error" : "ok");
    this.render();
  }

  async reopen(asset, row, kind) {
    const item = { assetId: asset.id, expectedRevision: asset.revision };
    if (row.slot) item.slot = row.slot;
    const input = { attribute: row.attribute, items: [item], note: `undo of ${kind}` };
    const r = (await gql(REOPEN, { input, attribute: row.attribute })).result;
    if (r.__typename !== "BulkTagDecision") return r.message;
    const answer = r.items[0].result;
    if (answer.__typename !== "TagDecision") return answer.message;
    this.setRevision(asset, answer.revision);
    this.decided.delete(row.key);
    row.tag = answer.asset.tags.find((t) => (t.slot || null) === row.slot) || row.tag;
    row.outcome = null;
    row.value = null;
    return null;
  }

  async correct() {
    const asset = this.current();
    const row = this.currentRow();
    if (!this.canDecide() || !row) return;
    if (!pending(row)) return say(this.page.status, `${row.attribute} is already ${row.outcome} (u undoes)`);
    const taxonomy = this.page.taxonomy();
    if (!taxonomy) return say(this.page.status, "The taxonomy is still loading; try again in a moment.");
    this.choosing = true;
    let value = null;
    try {
      const info = await attributeFor(taxonomy, row.attribute, asset.brand || null);
      const proposed = row.tag.disagreement ? [row.tag.proposedValue] : []; // Enter takes it
      value = await chooseValue(this.page.dialog, info, `Correct ${row.attribute} to`, proposed);
    } finally {
      this.choosing = false;
    }
    this.page.root.focus();
    if (value) await this.enqueue(() => this.decide("corrected", value));
  }

  async why() {
    const asset = this.current();
    const row = this.currentRow();
    if (row) await explain(this.page.panel, { assetId: asset.id, attribute: row.attribute, sku: asset.sku });
  }

  /** The review page's keys in this mode; answers whether `event` was one. */
  onKey(event) {
    if (this.choosing) return true;
    const actions = {
      ArrowUp: () => this.moveRow(-1), k: () => this.moveRow(-1),
      ArrowDown: () => this.moveRow(1), j: () => this.moveRow(1),
      ArrowLeft: () => this.moveAsset(-1), h: () => this.moveAsset(-1),
      ArrowRight: () => this.moveAsset(1), l: () => this.moveAsset(1),
      c: () => this.decide("confirmed"),
      x: () => this.decide("rejected"),
      C: () => this.confirmAll(),
      u: () => this.undo(),
      w: () => this.why(),
      "?": () => this.why(),
      Escape: () => {
        this.page.panel.hidden = true;
      },
    };
    if (event.key === "e") {
      event.preventDefault();
      this.correct(); // opens a dialog: not queued behind itself
      return true;
    }
    // Caps lock makes "c" a "C": confirm all only with shift held.
    const key = event.key === "C" && !event.shiftKey ? "c" : event.key;
    const action = actions[key];
    if (!action) return false;
    event.preventDefault();
    this.enqueue(action);
    return true;
  }

  // Rendering: the whole view is redrawn on each change (one asset, a handful of rows).

  labelOf(attribute, id) {
    const taxonomy = this.page.taxonomy();
    const a = taxonomy ? taxonomy.attributes.find((x) => x.name === attribute) : null;
    const v = a ? a.values.find((x) => x.id === id) : null;
    return { label: (v && v.label) || id || "–", hex: v ? v.hex : null };
  }

  valueCell(row) {
    const id = row.value || row.tag.value;
    const { label, hex } = this.labelOf(row.attribute, id);
    const text = row.value ? label : row.tag.label || label;
    return row.attribute === "colour" ? swatch(hex, text) : el("strong", { text });
  }

  renderRow(asset, row, i) {
    const t = row.tag;
    const current = i === asset.row;
    return el("tr",
      { id: `row-${row.key}`, class: [current ? "current" : "", pending(row) ? "" : "decided"].join(" ").trim(),
        "aria-selected": current ? "true" : "false", "data-attribute": row.attribute, "data-slot": row.slot || "",
        "data-outcome": row.outcome || "pending",
        onclick: () => this.enqueue(() => { this.setRow(asset, i); this.render(); }) },
      el("th", { scope: "row", text: row.slot ? `${row.attribute} (also)` : row.attribute }),
      el("td", {}, this.valueCell(row)),
      el("td", { text: fmtProb(t.probability) }),
      el("td", {}, el("span", { class: "tier", text: t.tier || t.state })),
      el("td", { class: "outcome", text: row.outcome || (t.disagreement ? `newer head: ${t.proposedValue}` : "pending") }));
  }

  renderAsset(asset) {
    const img = el("img", { class: "photo", alt: `${nameOf(asset)} product photo` });
    showThumbnail(img, asset.thumbnail);
    const meta = [["SKU", asset.sku], ["brand", asset.brand], ["collection", asset.collection], ["id", asset.id], ["revision", asset.revision]];
    const table = el("table", { class: "asset-tags", id: "asset-tags", "aria-label": `Tags of ${nameOf(asset)}` },
      el("thead", {}, el("tr", {}, ...["attribute", "value", "probability", "tier", "decision"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...asset.rows.map((row, i) => this.renderRow(asset, row, i))));
    return [
      el("figure", { class: "asset-photo" }, img),
      el("div", { class: "asset-info" },
        el("h2", { text: `${nameOf(asset)} · asset ${this.index + 1} of ${this.assets.length}${this.hasNext ? "+" : ""} loaded` }),
        el("dl", { class: "meta" }, ...meta.filter(([, v]) => v !== null && v !== undefined).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])),
        table),
    ];
  }

  render() {
    if (!this.active) return;
    const asset = this.current();
    const root = this.page.root;
    root.classList.toggle("conflict", Boolean(asset && asset.conflict));
    root.dataset.asset = asset ? asset.id : "";
    root.replaceChildren(...(asset ? this.renderAsset(asset) : [el("p", { class: "empty", text: "Nothing left in this queue." })]));
    if (asset) asset.conflict = false; // marked once, on the redraw after the conflict
    this.updateCounter();
  }

  updateCounter() {
    const counter = this.page.counter;
    const left = this.total === null ? this.assets.filter((a) => !a.finished).length : Math.max(this.total - this.done, 0);
    counter.textContent = `${left}${this.total === null && this.hasNext ? "+" : ""} asset${left === 1 ? "" : "s"} left`;
    counter.dataset.left = String(left);
  }
}
