// The correction type-ahead: taxonomy values of one attribute, matched on label, id, synonyms
// and hierarchy, shown with their path (Outerwear › Coat › Peacoat) and colour swatches. Cards
// of one brand are offered the values as that brand sees them (its labels, its own values).
import { el, gql, swatch } from "./common.js";
import { BRAND_TAXONOMY } from "./documents.js";

const brandTaxonomies = new Map(); // brand -> Promise of taxonomy(brand:), asked once

/** `name`'s attribute as `brand` sees it (taxonomy(brand:), asked once per brand), or as in
 * `base` without a brand or when the brand's answer fails. */
export async function attributeFor(base, name, brand) {
  let taxonomy = base;
  if (brand) {
    if (!brandTaxonomies.has(brand)) {
      const asked = gql(BRAND_TAXONOMY, { brand }).then((data) => data.taxonomy);
      asked.catch(() => brandTaxonomies.delete(brand)); // asked again next time
      brandTaxonomies.set(brand, asked);
    }
    try {
      taxonomy = await brandTaxonomies.get(brand);
    } catch {
      taxonomy = base;
    }
  }
  return taxonomy.attributes.find((a) => a.name === name) || base.attributes.find((a) => a.name === name);
}

/** Values matching `query`, best first; with no query, the `preferred` ids come first. */
export function rank(values, query, preferred = []) {
  const q = query.trim().toLowerCase();
  if (!q) {
    const first = preferred.map((id) => values.find((v) => v.id === id)).filter(Boolean);
    return [...first, ...values.filter((v) => !first.includes(v))];
  }
  const scored = [];
  for (const v of values) {
    const label = v.label.toLowerCase();
    const hay = [label, v.id.toLowerCase(), ...v.synonyms.map((s) => s.toLowerCase())];
    let score = -1;
    if (hay.some((h) => h.startsWith(q))) score = 0;
    else if (hay.some((h) => h.includes(q))) score = 1;
    else if (v.path.join(" ").toLowerCase().includes(q)) score = 2;
    if (score >= 0) scored.push([score, v.depth, label, v]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2].localeCompare(b[2]));
  return scored.map((s) => s[3]);
}

/** Open the dialog for `attribute`'s values (`preferred` ids offered first); resolves with the
 * chosen value id or null. */
export function chooseValue(dialog, attribute, title, preferred = []) {
  const input = dialog.querySelector("#ta-input");
  const list = dialog.querySelector("#ta-list");
  const label = dialog.querySelector("#ta-label");
  const count = dialog.querySelector("#ta-count");
  label.textContent = title;
  input.value = "";
  let shown = [];
  let index = 0;

  function render() {
    shown = rank(attribute.values, input.value, preferred).slice(0, 50);
    index = Math.min(index, Math.max(shown.length - 1, 0));
    list.replaceChildren(
      ...shown.map((v, i) =>
        el(
          "li",
          {
            id: `ta-opt-${i}`,
            role: "option",
            "aria-selected": i === index ? "true" : "false",
            "data-value": v.id,
            onmousedown: (event) => {
              event.preventDefault();
              finish(v.id);
            },
          },
          v.hex ? swatch(v.hex, v.label) : el("span", { text: v.label }),
          " ",
          el("span", { class: "path", text: v.path.join(" › ") }),
        ),
      ),
    );
    input.setAttribute("aria-activedescendant", shown.length ? `ta-opt-${index}` : "");
    count.textContent = `${shown.length} match${shown.length === 1 ? "" : "es"}`;
    const active = list.children[index];
    if (active) active.scrollIntoView({ block: "nearest" });
  }

  let resolveChoice;
  function finish(value) {
    cleanup();
    dialog.close();
    resolveChoice(value);
  }
  function onKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      index = Math.max(0, Math.min(shown.length - 1, index + step));
      render();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (shown[index]) finish(shown[index].id);
    } else if (event.key === "Escape") {
      event.preventDefault();
      finish(null);
    }
  }
  function onInput() {
    index = 0;
    render();
  }
  function onClose() {
    cleanup();
    resolveChoice(null);
  }
  function cleanup() {
    input.removeEventListener("keydown", onKey);
    input.removeEventListener("input", onInput);
    dialog.removeEventListener("close", onClose);
  }
  return new Promise((resolve) => {
    resolveChoice = resolve;
    input.addEventListener("keydown", onKey);
    input.addEventListener("input", onInput);
    dialog.addEventListener("close", onClose);
    render();
    dialog.showModal();
    input.focus();
  });
}
