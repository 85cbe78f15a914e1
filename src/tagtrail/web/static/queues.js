// The review page's queues: pending tags (reviewQueue), human decisions a newer head disagrees
// with (reviewQueue(reason: DISAGREEMENT)), the pending tags of the random hold-out
// (reviewQueue(reason: HOLDOUT): never in the pending queue) and the sampled tags of an audit round
// (auditQueue). Each mode says what it asks /graphql for, which filters apply to it, how its
// cards read, and when a tag has left it. Decisions are the same mutations in every mode.
import { el, fmtProb, gql } from "./common.js";
import { AUDIT_QUEUE, REVIEW_QUEUE } from "./documents.js";

export const MODES = ["PENDING", "DISAGREEMENT", "HOLDOUT", "AUDIT"];
/** The queue chosen in the filter form (PENDING unless a known other one). */
export function modeOf(form) {
  const mode = new FormData(form).get("queue");
  return MODES.includes(mode) ? mode : "PENDING";
}

/** Show the filters that apply to the chosen queue (labels name theirs in data-queues). */
export function showFilters(form) {
  const mode = modeOf(form);
  for (const label of form.querySelectorAll("[data-queues]")) {
    label.hidden = !label.dataset.queues.split(" ").includes(mode);
  }
}

/** What one load of the queue asks for: read once, so refills ask for the same queue. */
export function queryOf(form) {
  const mode = modeOf(form);
  const f = new FormData(form);
  const attribute = f.get("attribute") || null;
  if (mode === "AUDIT") {
    const round = (f.get("round") || "").trim() || "r1";
    return { mode, perAsset: false, variables: { round, attribute, attributes: attribute ? [attribute] : null } };
  }
  const filter = {};
  const value = (f.get("value") || "").trim();
  if (attribute && value) filter.tags = [{ attribute, values: [value] }];
  for (const name of ["brand", "collection"]) {
    const v = (f.get(name) || "").trim();
    if (v) filter[name] = v.split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (f.get("season")) filter.season = [f.get("season")];
  if (mode === "PENDING") {
    const tagState = {};
    if (f.get("tier")) tagState.tier = [f.get("tier")];
    if (f.get("state")) tagState.state = [f.get("state")];
    const head = (f.get("head") || "").trim();
    if (head) tagState.headVersion = [head];
    if (Object.keys(tagState).length) {
      if (!tagState.state) tagState.state = ["FLAGGED", "SUGGESTED"]; // the pending tag itself
      if (attribute) tagState.attribute = attribute;
      filter.tagState = tagState;
    }
  }
  return {
    mode,
    // With an attribute chosen every asset is one card; otherwise an asset may show several.
    perAsset: !attribute,
    variables: {
      filter: Object.keys(filter).length ? filter : null,
      attributes: attribute ? [attribute] : null,
      order: f.get("order") || "LOWEST_CONFIDENCE_FIRST",
      reason: mode, // PENDING, DISAGREEMENT or HOLDOUT (the audit round asked above)
    },
  };
}

function card(asset, tag, audit = null) {
  // A further value of a multi-valued attribute (colour, material) is a card of its own.
  const slot = tag.slot || null;
  return { key: `${asset.id}:${tag.attribute}${slot ? `/${slot}` : ""}`, assetId: asset.id, revision: asset.revision,
    attribute: tag.attribute, slot, tag, audit, sku: asset.sku, brand: asset.brand, collection: asset.collection, thumbnail: asset.thumbnail };
}

/**
 * One page of the queue: {cards, total, hasNext, cursor}. `total` is null for an audit round
 * (auditQueue has no count and no cursor: a refill asks again and skips the cards seen).
 */
export async function fetchQueue(query, after, first) {
  if (query.mode === "AUDIT") {
    const q = (await gql(AUDIT_QUEUE, { ...query.variables, first })).auditQueue;
    if (q.__typename !== "AuditQueue") throw new Error(`${q.field || "audit"}: ${q.message}`);
    const cards = [];
    for (const item of q.items) {
      if (!item.asset) continue; // deleted since it was sampled
      const tag = item.asset.tags.find((t) => t.attribute === item.attribute);
      if (tag) cards.push(card(item.asset, tag, item));
    }
    return { cards, total: null, hasNext: q.items.length >= first, cursor: null };
  }
  const q = (await gql(REVIEW_QUEUE[query.mode], { ...query.variables, first, after })).reviewQueue;
  if (q.__typename !== "ReviewQueue") throw new Error(`${q.field || "filter"}: ${q.message}`);
  return {
    cards: q.items.flatMap((item) => item.tags.map((tag) => card(item.asset, tag))),
    total: q.totalCount,
    hasNext: q.pageInfo.hasNextPage,
    cursor: q.pageInfo.endCursor,
  };
}

/** Whether `tag` (as it is now) still belongs in the `mode` queue. */
export function stillQueued(mode, tag) {
  if (!tag) return false;
  if (mode === "DISAGREEMENT") return tag.disagreement;
  if (mode === "AUDIT") return !tag.reviewed && Boolean(tag.value);
  return tag.needsReview;
}

/** The lines under a card's value: who decided it and how sure, a newer head's proposal, the
 * audit stratum. `labelOf(attribute, id)` names taxonomy values. */
export function details(c, labelOf) {
  const t = c.tag;
  const lines = [];
  if (t.reviewed) {
    lines.push(el("div", { class: "tagline" }, el("span", { class: "tier", text: t.state }), el("span", { text: `by ${t.decidedBy}` })));
  } else {
    lines.push(el("div", { class: "tagline" },
      el("span", { class: "tier", text: t.state }), el("span", { text: fmtProb(t.probability) }),
      el("span", { class: "path", text: t.headVersion || "" })));
  }
  if (t.disagreement) {
    lines.push(el("div", { class: "proposal" }, "newer head proposes ",
      el("strong", { text: labelOf(c.attribute, t.proposedValue) }),
      ` (${fmtProb(t.proposedProbability)}, ${t.proposedHeadVersion || "?"})`));
  }
  if (c.audit) {
    lines.push(el("div", { class: "audit" },
      el("span", { class: "tier", text: `audit · ${c.audit.tier}` }), " ",
      el("span", { class: "path", text: c.audit.stratum })));
  }
  return lines;
}
