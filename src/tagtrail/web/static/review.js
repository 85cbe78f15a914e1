// The review grid: a keyboard-first queue, one card per (asset, attribute): pending tags,
// disagreements with a newer head, or an audit round's sample (queues.js).
// Everything goes through the public /graphql: reviewQueue, auditQueue,
// confirmTag/rejectTag/correctTag (and their bulk forms) with expectedRevision, reopenTags,
// explainTag, taxonomy.
import { el, gql, say, showThumbnail, signIn, swatch } from "./common.js";
import { explain } from "./explain.js";
import { DECIDE, DECIDE_MANY, HEAD_VERSIONS, RELOAD, REOPEN, TAXONOMY } from "./documents.js";
import { details, fetchQueue, queryOf, showFilters, stillQueued } from "./queues.js";
import { AssetReview } from "./review-asset.js";
import { attributeFor, chooseValue } from "./typeahead.js";

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const state = {
  principal: null,
  taxonomy: null,
  query: null, // {mode, perAsset, variables}: the queue loaded (refills ask for the same)
  cards: [], // {key, assetId, revision, attribute, tag, audit, sku, brand, collection, node}
  active: 0,
  anchor: null, // start of a shift-range, or null
  total: 0, // assets in the queue when it was loaded (null: unknown, an audit round)
  done: 0, // of those, assets with no card left (decided here or elsewhere)
  seen: new Set(), // card keys shown or decided: never shown twice
  cursor: null,
  hasNext: false,
  undo: [], // stacks of {kind, items: [{card, revision, event}]}
  revisions: new Map(), // asset id -> the newest revision this page knows
  choosing: false, // the correction dialog is opening or open
  current: null, // the card that is current (focused), and since when (performance.now())
  currentSince: 0,
};
const MAX_SHOWN_MS = 86_400_000; // the API's bound on shownMs
// The second mode, review by asset (a key, or ?mode=asset): its own view, keys and decisions.
const byAsset = new AssetReview({
  root: $("asset-view"), status: $("status"), counter: $("counter"), dialog: $("correct"), panel: $("panel"),
  canDecide: () => canDecide(), taxonomy: () => state.taxonomy, revisions: state.revisions,
});
// Keys are applied one after another, in the order pressed: "c c c" confirms three items
// even while the first answer is still on its way.
let chain = Promise.resolve();
function enqueue(action) {
  chain = chain.then(action).catch((exc) => say($("status"), exc.message, "error"));
  return chain;
}

function canDecide() {
  return state.principal && state.principal.role !== "viewer";
}

function taxonomyValue(attribute, value) {
  const a = state.taxonomy ? state.taxonomy.attributes.find((x) => x.name === attribute) : null;
  return (a && a.values.find((x) => x.id === value)) || null;
}

function colourHex(value) {
  const v = taxonomyValue("colour", value);
  return v ? v.hex : null;
}

function labelOf(attribute, value) {
  const v = taxonomyValue(attribute, value);
  return v ? v.label : value || "–";
}

function renderCard(card) {
  const t = card.tag;
  const img = el("img", { class: "thumb", alt: `${card.sku || card.assetId.slice(0, 10)} product photo` });
  const valueNode = card.attribute === "colour" ? swatch(colourHex(t.value), t.label || t.value) : el("strong", { text: t.label || t.value || "–" });
  const button = (kind, text, key) =>
    el("button", { type: "button", class: "decide", tabindex: "-1", "aria-keyshortcuts": key, text,
      onclick: (e) => { e.stopPropagation(); enqueue(() => { activate(state.cards.indexOf(card), false); return decide(kind); }); } });
  const node = el(
    "li",
    { id: `card-${card.key}`, role: "option", class: "card", "aria-selected": "false", "data-asset": card.assetId, "data-attribute": card.attribute,
      onclick: (e) => activate(state.cards.indexOf(card), e.shiftKey) },
    img,
    el("div", { class: "tagline" }, el("span", { text: card.slot ? `${card.attribute} (also):` : `${card.attribute}:` }), valueNode),
    ...details(card, labelOf),
    el("div", { class: "path", text: [card.sku, card.brand, card.collection].filter(Boolean).join(" · ") }),
    el("div", { class: "actions" },
      button("confirmed", "Confirm", "c"), button("rejected", "Reject", "x"), button("corrected", "Correct…", "e"),
      el("button", { type: "button", tabindex: "-1", text: "Why?", "aria-keyshortcuts": "w",
        onclick: (e) => { e.stopPropagation(); activate(state.cards.indexOf(card), false); why(); } })),
  );
  card.node = node;
  showThumbnail(img, card.thumbnail);
  return node;
}

function unseen(cards) {
  const out = [];
  for (const card of cards) {
    if (state.seen.has(card.key) || byAsset.stale(card)) continue;
    // Search lags a decision made here by a second: decide at the newest revision known.
    card.revision = Math.max(card.revision, state.revisions.get(card.assetId) ?? 0);
    state.seen.add(card.key);
    out.push(card);
  }
  return out;
}

async function load(pending = null) {
  say($("status"), "Loading…");
  state.seen.clear();
  state.cards = [];
  state.done = 0;
  state.anchor = null;
  try {
    if (!pending) state.query = queryOf($("filters"));
    const q = await (pending || fetchQueue(state.query, null, PAGE));
    state.total = q.total;
    state.cursor = q.cursor;
    state.hasNext = q.hasNext;
    state.cards = unseen(q.cards);
    say($("status"), "");
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
  $("grid").replaceChildren(...state.cards.map(renderCard));
  activate(0, false);
  updateCounter();
  $("grid").focus();
}

async function refill() {
  // Keep the grid full: the next items of the same queue take the place of decided ones.
  // An audit round has no cursor: it is asked again (once half the grid is decided) and the
  // cards already seen are skipped.
  if (!state.hasNext || state.cards.length >= PAGE) return;
  const audit = state.query.mode === "AUDIT";
  if (audit && state.cards.length > PAGE / 2) return;
  try {
    const q = await fetchQueue(state.query, audit ? null : state.cursor, audit ? PAGE : PAGE - state.cards.length);
    state.cursor = q.cursor || state.cursor;
    state.hasNext = q.hasNext;
    const fresh = unseen(q.cards);
    state.cards.push(...fresh);
    $("grid").append(...fresh.map(renderCard));
    if (state.cards.length === fresh.length) activate(0, false);
    updateCounter();
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
}

function updateCounter() {
  // With an attribute chosen every asset is one card; otherwise an asset may show several.
  // An audit round has no count: the cards held, "+" while the round may hold more.
  if (state.total === null) {
    $("counter").textContent = `${state.cards.length}${state.hasNext ? "+" : ""} left`;
    $("counter").dataset.left = String(state.cards.length);
    return;
  }
  const left = Math.max(state.total - state.done, 0);
  const perAsset = state.query && state.query.perAsset;
  $("counter").textContent = perAsset ? `${left} assets left` : `${left} left`;
  $("counter").dataset.left = String(left);
}

function assetIds(cards) {
  return [...new Set(cards.map((c) => c.assetId))];
}

function selection() {
  if (!state.cards.length) return [];
  if (state.anchor === null) return [state.cards[state.active]];
  const [a, b] = [Math.min(state.anchor, state.active), Math.max(state.anchor, state.active)];
  return state.cards.slice(a, b + 1);
}

function activate(index, extend) {
  if (!state.cards.length) {
    $("grid").removeAttribute("aria-activedescendant");
    updateBadge();
    return;
  }
  index = Math.max(0, Math.min(state.cards.length - 1, index));
  if (extend && state.anchor === null) state.anchor = state.active;
  if (!extend) state.anchor = null;
  state.active = index;
  showing(state.cards[index]);
  const chosen = new Set(selection());
  state.cards.forEach((c, i) => {
    c.node.classList.toggle("active", i === index);
    c.node.classList.toggle("selected", chosen.has(c) && chosen.size > 1);
    c.node.setAttribute("aria-selected", chosen.has(c) ? "true" : "false");
  });
  const node = state.cards[index].node;
  $("grid").setAttribute("aria-activedescendant", node.id);
  node.scrollIntoView({ block: "nearest" });
  updateBadge();
}

/** Start the clock of `card` when it becomes the current card (not when it is re-drawn). */
function showing(card) {
  if (card === state.current) return;
  state.current = card;
  state.currentSince = performance.now();
}

/** How long `card` has been the current card, in ms (review effort; the API bounds it). */
function shownMs(card) {
  if (card !== state.current) return 0;
  return Math.min(MAX_SHOWN_MS, Math.max(0, Math.round(performance.now() - state.currentSince)));
}

function updateBadge() {
  const n = selection().length;
  $("badge").hidden = n < 2;
  $("badge").textContent = `applies to ${n}`;
}

function columns() {
  return getComputedStyle($("grid")).gridTemplateColumns.split(" ").filter(Boolean).length || 1;
}

function removeCards(cards) {
  const gone = new Set(cards);
  const before = state.cards.indexOf(cards[0]);
  for (const c of cards) c.node.remove();
  state.cards = state.cards.filter((c) => !gone.has(c));
  for (const id of assetIds(cards)) if (!state.cards.some((c) => c.assetId === id)) state.done += 1;
  state.anchor = null;
  activate(Math.min(Math.max(before, 0), state.cards.length - 1), false);
}

function setRevision(assetId, revision) {
  // Decided cards leave the grid, but an undo needs the asset's newest revision.
  state.revisions.set(assetId, revision);
  for (const c of state.cards) if (c.assetId === assetId) c.revision = revision;
}

async function reloadCard(card, message) {
  // Someone else decided first: say so plainly, then show the item as it is now.
  card.node.classList.add("conflict");
  const data = await gql(RELOAD, { id: card.assetId, attribute: card.attribute, slot: card.slot });
  const asset = data.asset;
  if (asset.__typename !== "Asset" || !stillQueued(state.query.mode, asset.tag)) {
    const now = asset.tag ? `${asset.tag.state} ${asset.tag.label || asset.tag.value || ""} by ${asset.tag.decidedBy}` : "gone";
    say($("status"), `Conflict: ${message} It is now ${now}; removed from your queue.`, "error");
    removeCards([card]);
  } else {
    setRevision(card.assetId, asset.revision);
    card.tag = asset.tag;
    const old = card.node;
    const fresh = renderCard(card); // card.node is the fresh one from here on
    fresh.classList.add("conflict");
    old.replaceWith(fresh);
    activate(state.cards.indexOf(card), false);
    say($("status"), `Conflict: ${message} Reloaded at revision ${asset.revision}: decide again.`, "error");
  }
  updateCounter();
}

async function decide(kind, value = null, targets = null) {
  if (!canDecide()) return;
  targets = targets || selection();
  if (!targets.length) return;
  try {
    if (targets.length === 1) await decideOne(kind, targets[0], value);
    else await decideMany(kind, targets, value);
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
  updateCounter();
  await refill();
}

async function decideOne(kind, card, value, note = null) {
  const input = {
    assetId: card.assetId, attribute: card.attribute, expectedRevision: card.revision, shownMs: shownMs(card),
  };
  if (card.slot) input.slot = card.slot;
  if (value !== null) input.value = value;
  if (note) input.note = note;
  const r = (await gql(DECIDE[kind], { input })).result;
  if (r.__typename === "TagDecision") {
    setRevision(card.assetId, r.revision);
    state.undo.push({ kind, items: [{ card, revision: r.revision, event: r.event }] });
    removeCards([card]);
    say($("status"), `${kind} ${card.attribute} of ${card.sku || card.assetId.slice(0, 8)} (u undoes)`, "ok");
  } else if (r.__typename === "Conflict") {
    await reloadCard(card, r.message);
  } else {
    say($("status"), r.message, "error");
  }
  return r;
}

function batches(items, cardOf = (x) => x) {
  // One bulk request per attribute, each asset once in it: two values of one asset (a
  // further colour beside the primary) go in consecutive requests, at their newest revision.
  const out = [];
  for (const item of items) {
    const c = cardOf(item);
    let batch = out.find((b) => b.attribute === c.attribute && !b.items.some((x) => cardOf(x).assetId === c.assetId));
    if (!batch) out.push((batch = { attribute: c.attribute, items: [] }));
    batch.items.push(item);
  }
  return out;
}

function bulkItem(card) {
  const item = { assetId: card.assetId, expectedRevision: state.revisions.get(card.assetId) ?? card.revision };
  if (card.slot) item.slot = card.slot;
  return item;
}

async function decideMany(kind, cards, value) {
  const done = [];
  const conflicts = [];
  for (const { attribute, items: group } of batches(cards)) {
    const input = { attribute, items: group.map(bulkItem) };
    if (value !== null) input.value = value;
    const r = (await gql(DECIDE_MANY[kind], { input })).result;
    if (r.__typename !== "BulkTagDecision") {
      say($("status"), r.message, "error");
      return;
    }
    r.items.forEach((item, i) => {
      const card = group[i];
      if (item.result.__typename === "TagDecision") {
        setRevision(card.assetId, item.result.revision);
        done.push({ card, revision: item.result.revision, event: item.result.event });
      } else if (item.result.__typename === "Conflict") conflicts.push([card, item.result.message]);
    });
  }
  if (done.length) {
    state.undo.push({ kind, items: done });
    removeCards(done.map((d) => d.card));
  }
  say($("status"), `${kind} ${done.length} of ${cards.length}${conflicts.length ? `; ${conflicts.length} conflicted` : ""}`, conflicts.length ? "error" : "ok");
  for (const [card, message] of conflicts) await reloadCard(card, message);
}

async function undo() {
  // Undo appends a new event (reopenTags), never deletes history: each decided tag goes back
  // to what it was before the decision (a pending proposal, or a disagreement), and its card
  // returns to the grid.
  if (!canDecide()) return;
  const last = state.undo.pop();
  if (!last) {
    say($("status"), "Nothing to undo.");
    return;
  }
  const restored = [];
  const refused = [];
  try {
    for (const { attribute, items: group } of batches(last.items, (x) => x.card)) {
      const items = group.map(({ card }) => bulkItem(card));
      const r = (await gql(REOPEN, { input: { attribute, items, note: `undo of ${last.kind}` }, attribute })).result;
      if (r.__typename !== "BulkTagDecision") throw new Error(r.message);
      r.items.forEach((item, i) => {
        const { card } = group[i];
        const answer = item.result;
        if (answer.__typename === "TagDecision") {
          setRevision(card.assetId, answer.revision);
          card.revision = answer.revision;
          card.tag = answer.asset.tags.find((t) => (t.slot || null) === card.slot);
          restored.push(card);
        } else refused.push(`${card.sku || card.assetId.slice(0, 8)}: ${answer.message}`);
      });
    }
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
  const at = Math.min(state.active, state.cards.length);
  for (const id of assetIds(restored)) if (!state.cards.some((c) => c.assetId === id)) state.done -= 1;
  state.cards.splice(at, 0, ...restored);
  const grid = $("grid");
  for (const card of [...restored].reverse()) grid.insertBefore(renderCard(card), grid.children[at] || null);
  if (restored.length) activate(at, false);
  const what = `Undone: ${last.kind} of ${restored.length} item${restored.length === 1 ? "" : "s"}, back in the queue`;
  if (refused.length) say($("status"), `${what}; not undone: ${refused.join("; ")}`, "error");
  else if (restored.length) say($("status"), what, "ok");
  updateCounter();
}

async function correct() {
  if (!canDecide()) return;
  const targets = selection();
  if (!targets.length) return;
  const attribute = targets[0].attribute;
  if (targets.some((c) => c.attribute !== attribute)) {
    say($("status"), "A range to correct must share one attribute.", "error");
    return;
  }
  if (!state.taxonomy) {
    say($("status"), "The taxonomy is still loading; try again in a moment.");
    return;
  }
  // Cards of one brand see its labels and its own values; mixed brands see the base list.
  // Keys pressed while the brand's values are on their way decide nothing.
  state.choosing = true;
  let value = null;
  try {
    const brands = new Set(targets.map((c) => c.brand || ""));
    const info = await attributeFor(state.taxonomy, attribute, brands.size === 1 ? [...brands][0] : null);
    const title = targets.length > 1 ? `Correct ${attribute} of ${targets.length} items to` : `Correct ${attribute} to`;
    // A newer head's proposal is offered first (Enter takes it).
    const proposed = [...new Set(targets.filter((c) => c.tag.disagreement).map((c) => c.tag.proposedValue))];
    value = await chooseValue($("correct"), info, title, proposed);
  } finally {
    state.choosing = false;
  }
  $("grid").focus();
  if (value) await enqueue(() => decide("corrected", value, targets));
}

async function why() {
  const card = state.cards[state.active];
  if (!card) return;
  try {
    await explain($("panel"), card);
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
}

function setMode(asset) {
  byAsset.active = asset;
  $("grid").hidden = asset;
  $("asset-view").hidden = !asset;
  $("keys").hidden = asset;
  $("asset-keys").hidden = !asset;
  $("mode").setAttribute("aria-pressed", String(asset));
  document.body.dataset.mode = asset ? "asset" : "grid";
  const url = new URL(location.href);
  if (asset) url.searchParams.set("mode", "asset");
  else url.searchParams.delete("mode");
  history.replaceState(null, "", url);
}

function toggleMode() {
  // Each mode asks for the queue afresh: the other may have decided some of it.
  setMode(!byAsset.active);
  if (byAsset.active) byAsset.open((state.query = queryOf($("filters"))));
  else enqueue(() => load());
}

function onKey(event) {
  if ($("correct").open || state.choosing || byAsset.choosing) return;
  const target = event.target;
  if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "a") {
    event.preventDefault();
    toggleMode();
    return;
  }
  if (byAsset.active) {
    byAsset.onKey(event);
    return;
  }
  const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(), ArrowDown: columns() };
  if (event.key in moves) {
    event.preventDefault();
    const extend = event.shiftKey;
    enqueue(() => activate(state.active + moves[event.key], extend));
    return;
  }
  const actions = {
    c: () => decide("confirmed"),
    x: () => decide("rejected"),
    e: () => correct(),
    u: () => undo(),
    w: () => why(),
    "?": () => why(),
    Escape: () => {
      $("panel").hidden = true;
      activate(state.active, false);
      $("grid").focus();
    },
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    if (event.key === "e") action(); // opens a dialog: not queued behind itself
    else enqueue(action);
  }
}

async function headVersions() {
  try {
    const data = await gql(HEAD_VERSIONS);
    const r = data.searchAssets;
    const facet = r.facets ? r.facets[0] : null;
    $("f-heads").replaceChildren(...(facet ? facet.values.map((v) => el("option", { value: v.value, label: `${v.count} tags` })) : []));
  } catch {
    /* a suggestion list only */
  }
}

function settle(promise) {
  return promise.then((value) => ({ value }), (error) => ({ error }));
}

async function loadTaxonomy() {
  // Filters' options, the type-ahead and colour swatches need the taxonomy; the grid does not.
  const data = await gql(TAXONOMY);
  state.taxonomy = data.taxonomy;
  const select = $("f-attribute");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "any" }));
  for (const a of state.taxonomy.attributes) select.append(el("option", { value: a.name, text: a.label }));
  select.value = chosen;
  select.addEventListener("change", () => {
    const a = state.taxonomy.attributes.find((x) => x.name === select.value);
    $("f-values").replaceChildren(...(a ? a.values.map((v) => el("option", { value: v.id, label: v.path.join(" › ") })) : []));
  });
  select.dispatchEvent(new Event("change"));
  const named = state.cards.filter((c) => c.attribute === "colour" || c.tag.disagreement);
  for (const card of named) {
    const old = card.node;
    old.replaceWith(renderCard(card)); // now with its palette swatch, the proposal's label
  }
  if (named.length) activate(state.active, state.anchor !== null);
  byAsset.render(); // colour swatches, corrected values' labels
}

async function start() {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of params) {
    const field = $("filters").elements.namedItem(name);
    if (field) field.value = value;
  }
  if (params.has("attribute")) {
    // The option list is filled from the taxonomy later; the queue does not wait for it.
    $("f-attribute").append(el("option", { value: params.get("attribute"), text: params.get("attribute") }));
    $("f-attribute").value = params.get("attribute");
  }
  const queue = $("f-queue");
  queue.value = (params.get("queue") || "PENDING").toUpperCase();
  if (!queue.value) queue.value = "PENDING"; // an unknown queue name
  showFilters($("filters"));
  $("f-queue").addEventListener("change", () => showFilters($("filters")));
  // Ask for the first page while signing in (with the key this tab kept, or none on an open
  // server); asked again if it was refused for want of a key.
  state.query = queryOf($("filters"));
  const earlyPage = settle(fetchQueue(state.query, null, PAGE));
  state.principal = await signIn($("auth"));
  const page = await earlyPage;
  const first = page.error ? fetchQueue(state.query, null, PAGE) : Promise.resolve(page.value);
  $("filters").hidden = false;
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    if (byAsset.active) byAsset.open((state.query = queryOf($("filters"))));
    else load();
  });
  document.addEventListener("keydown", onKey);
  $("mode").addEventListener("click", toggleMode);
  setMode(params.get("mode") === "asset");
  if (byAsset.active) await byAsset.open(state.query, first);
  else await load(first);
  document.body.dataset.grid = "ready"; // cards shown with their thumbnails (decoding)
  await loadTaxonomy();
  $("f-head").addEventListener("focus", headVersions, { once: true });
  document.body.dataset.ready = "true";
}

start();
