// The correction type-ahead: taxonomy values of one attribute, matched on label, id, synonyms
// and hierarchy, shown with their path (Outerwear › Coat › Peacoat) and colour swatches.
import { el, swatch } from "./common.js";

export function rank(values, query) {
  const q = query.trim().toLowerCase();
  if (!q) return values.slice();
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

/** Open the dialog for `attribute`'s values; resolves with the chosen value id or null. */
export function chooseValue(dialog, attribute, title) {
  const input = dialog.querySelector("#ta-input");
  const list = dialog.querySelector("#ta-list");
  const label = dialog.querySelector("#ta-label");
  const count = dialog.querySelector("#ta-count");
  label.textContent = title;
  input.value = "";
  let shown = [];
  let index = 0;

  function render() {
    shown = rank(attribute.values, input.value).slice(0, 50);
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
