// The buyer's search: free text, multi-select facets with counts (tag state too), a paged
// result grid, "more like this" and "find similar to a photo I drop here" — all on /graphql.
import { el, gql, gqlUpload, say, showThumbnail, signIn, swatch } from "./common.js";
import { HEX, SEARCH, SIMILAR } from "./documents.js";

const PAGE = 24;
const ATTRIBUTES = ["category", "colour", "material", "pattern", "shot_type"];
const FIELDS = { brand: "BRAND", collection: "COLLECTION", season: "SEASON" };
const $ = (id) => document.getElementById(id);
const state = {
  selected: new Map(), // "kind:name" -> Set(values)
  cursors: [null], // cursor of each page shown so far
  page: 0,
  hex: new Map(),
};

function facetRequests() {
  return [
    ...ATTRIBUTES.map((attribute) => ({ attribute, size: 30 })),
    ...Object.values(FIELDS).map((field) => ({ field, size: 30 })),
    { tagState: "STATE", size: 10 },
  ];
}

function filter() {
  const f = {};
  const tags = [];
  for (const [key, values] of state.selected) {
    if (!values.size) continue;
    const [kind, name] = key.split(":");
    if (kind === "attribute") tags.push({ attribute: name, values: [...values] });
    else if (kind === "field") f[name] = [...values];
    else if (kind === "tag_state") f.tagState = { state: [...values].map((v) => v.toUpperCase()) };
  }
  if (tags.length) f.tags = tags;
  return Object.keys(f).length ? f : null;
}

function card(asset, extra) {
  const img = el("img", { class: "thumb", alt: `${asset.sku || asset.id.slice(0, 10)} product photo` });
  showThumbnail(img, asset.thumbnail);
  const tag = (name) => asset.tags.find((t) => t.attribute === name && t.state !== "rejected");
  const colour = tag("colour");
  const category = tag("category");
  return el(
    "li",
    { class: "card result", "data-asset": asset.id },
    img,
    el("strong", { text: asset.sku || asset.id.slice(0, 12) }),
    el("span", { class: "path", text: [asset.brand, asset.collection].filter(Boolean).join(" · ") }),
    category ? el("span", { text: category.label || category.value }) : null,
    colour ? swatch(state.hex.get(colour.value), colour.label || colour.value) : null,
    extra || null,
    el("button", { type: "button", class: "more", text: "More like this", "aria-label": `More like ${asset.sku || asset.id}`,
      onclick: () => similar({ assetId: asset.id }, `Similar to ${asset.sku || asset.id.slice(0, 10)}`) }),
  );
}

function renderFacets(facets) {
  const box = $("facets");
  box.replaceChildren(
    ...facets.filter((f) => f.values.length).map((f) => {
      const key = `${f.kind}:${f.name}`;
      const title = f.kind === "tag_state" ? "tag state" : f.name.replace("_", " ");
      return el(
        "fieldset",
        { "data-facet": key },
        el("legend", { text: title }),
        ...f.values.map((v) => {
          const id = `facet-${key}-${v.value}`.replace(/[^A-Za-z0-9_-]/g, "_");
          const input = el("input", { type: "checkbox", id, value: v.value, checked: v.selected,
            onchange: () => toggle(key, v.value, input.checked) });
          const text = f.kind === "tag_state" ? v.label.replaceAll("_", " ") : v.label;
          const label = f.name === "colour" ? swatch(state.hex.get(v.value), text) : el("span", { text });
          return el("label", { for: id }, input, " ", label, ` (${v.count})`);
        }),
      );
    }),
  );
}

function toggle(key, value, on) {
  if (!state.selected.has(key)) state.selected.set(key, new Set());
  const set = state.selected.get(key);
  if (on) set.add(value);
  else set.delete(value);
  search(true);
}

async function search(fromStart) {
  if (fromStart) {
    state.cursors = [null];
    state.page = 0;
  }
  $("back").hidden = true;
  say($("status"), "Searching…");
  const text = $("q-text").value.trim() || null;
  try {
    const data = await gql(SEARCH, {
      filter: filter(), text, facets: facetRequests(), first: PAGE,
      after: state.cursors[state.page], suggested: $("q-suggested").checked,
    });
    const r = data.searchAssets;
    if (r.__typename !== "AssetSearch") {
      say($("status"), `${r.field || ""} ${r.message}`, "error");
      return;
    }
    renderFacets(r.facets);
    $("results").replaceChildren(...r.edges.map((e) => card(e.node)));
    const first = state.page * PAGE + (r.edges.length ? 1 : 0);
    $("heading").textContent = `${r.totalCount} asset${r.totalCount === 1 ? "" : "s"}`;
    $("page").textContent = `${first}–${state.page * PAGE + r.edges.length} of ${r.totalCount}`;
    state.cursors[state.page + 1] = r.pageInfo.endCursor;
    $("next").disabled = !r.pageInfo.hasNextPage;
    $("prev").disabled = state.page === 0;
    say($("status"), text ? `text matched ${r.textMode.toLowerCase()}` : "");
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
}

async function similar(by, heading, file = null) {
  say($("status"), "Finding similar…");
  try {
    const data = file
      ? await gqlUpload(SIMILAR, { by: { image: null }, k: PAGE }, "variables.by.image", file)
      : await gql(SIMILAR, { by, k: PAGE });
    const r = data.similarAssets;
    if (r.__typename !== "SimilarAssets") {
      say($("status"), r.message, "error");
      return;
    }
    $("heading").textContent = `${heading}: ${r.hits.length} assets`;
    $("results").replaceChildren(
      ...r.hits.map((h) => card(h.asset, el("span", { class: "path", text: `similarity ${h.score.toFixed(3)}` }))),
    );
    $("page").textContent = "";
    $("next").disabled = true;
    $("prev").disabled = true;
    $("back").hidden = false;
    say($("status"), "");
    $("results").querySelector("button")?.focus();
  } catch (exc) {
    say($("status"), exc.message, "error");
  }
}

function setupDrop() {
  const drop = $("drop");
  const input = $("q-file");
  const use = (file) => file && similar(null, `Similar to ${file.name}`, file);
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => use(input.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    use(e.dataTransfer.files[0]);
  });
}

async function start() {
  await signIn($("auth"));
  try {
    const data = await gql(HEX);
    for (const a of data.taxonomy.attributes) for (const v of a.values) if (v.hex) state.hex.set(v.id, v.hex);
  } catch {
    /* swatches are a nicety; names are always shown */
  }
  $("query").hidden = false;
  $("query").addEventListener("submit", (e) => {
    e.preventDefault();
    search(true);
  });
  $("next").addEventListener("click", () => {
    state.page += 1;
    search(false);
  });
  $("prev").addEventListener("click", () => {
    state.page = Math.max(0, state.page - 1);
    search(false);
  });
  $("back").addEventListener("click", () => search(false));
  setupDrop();
  const params = new URLSearchParams(location.search);
  if (params.get("text")) $("q-text").value = params.get("text");
  await search(true);
  document.body.dataset.ready = "true";
}

start();
