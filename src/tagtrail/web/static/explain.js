// The "why?" panel: explainTag's decision chain, colour evidence (measured swatch beside the
// palette colour, ΔE to the alternatives), history and human-confirmed exemplars.
import { el, fmtProb, gql, showThumbnail, swatch } from "./common.js";
import { EXPLAIN } from "./documents.js";

function row(name, value) {
  return el("tr", {}, el("th", { scope: "row", text: name }), el("td", {}, value ?? "–"));
}

export async function explain(panel, card) {
  panel.hidden = false;
  panel.replaceChildren(el("h2", { text: `Why ${card.attribute}?` }), el("p", { text: "Loading…" }));
  const data = await gql(EXPLAIN, { id: card.assetId, attribute: card.attribute });
  const x = data.explainTag;
  if (x.__typename !== "TagExplanation") {
    panel.replaceChildren(el("h2", { text: "Why?" }), el("p", { role: "alert", text: x.message }));
    return;
  }
  const c = x.current || {};
  const d = x.decision || {};
  const parts = [
    el("h2", { id: "why-title", text: `Why is ${card.sku || card.assetId.slice(0, 8)} ${c.label || c.value || "–"}?` }),
    el(
      "table",
      { "aria-label": "Current tag" },
      row("value", `${c.label || "–"} (${c.value || "–"})`),
      row("state", `${c.state} · tier ${c.tier || "–"} · ${fmtProb(c.probability)}`),
      row("source", `${c.source} · decided by ${c.decidedBy}`),
      c.proposedValue ? row("newer model says", `${c.proposedValue} (${c.proposedHeadVersion || "?"})`) : null,
    ),
    el("h3", { text: "Decision chain" }),
    el(
      "table",
      { "aria-label": "Decision chain" },
      row("raw label", d.rawLabel),
      // Model heads give probabilities; the colour analyser ranks by ΔE (smaller is closer).
      row("top-k", (d.topK || []).map((t) => `${t.label} ${d.actorType === "analyser" ? `ΔE ${t.score.toFixed(1)}` : fmtProb(t.score)}`).join(", ")),
      row("mapping rule", d.ruleId),
      row("tier reason", d.tierReason),
      d.thresholds ? row("thresholds", `high ${d.thresholds.high} · medium ${d.thresholds.medium} · cap ${d.thresholds.cap}`) : null,
      row("model", d.modelFingerprint),
      row("head", d.headVersion || (x.head ? x.head.version : null)),
      row("analyser", d.analyser),
      row("taxonomy", d.taxonomyVersion),
    ),
  ];
  const findings = (x.colourEvidence && x.colourEvidence.findings) || [];
  if (findings.length) {
    parts.push(el("h3", { text: "Colour evidence" }));
    parts.push(
      el(
        "table",
        { "aria-label": "Colour evidence", class: "colour-evidence" },
        el("tr", {}, el("th", { text: "measured" }), el("th", { text: "palette" }), el("th", { text: "ΔE" }), el("th", { text: "alternatives (ΔE)" })),
        ...findings.map((f) =>
          el(
            "tr",
            {},
            el("td", {}, swatch(f.measuredHex, `measured ${f.measuredHex || ""}`)),
            el("td", {}, swatch(f.hex, `${f.label || f.name} (${f.family || "–"})`), el("div", { class: "path", text: `coverage ${fmtProb(f.coverage)}` })),
            el("td", { text: f.deltaE != null ? f.deltaE.toFixed(1) : "–" }),
            el("td", { text: (f.alternatives || []).map((a) => `${a.name} ${a.deltaE.toFixed(1)}`).join(", ") }),
          ),
        ),
      ),
    );
  }
  parts.push(el("h3", { text: "History" }));
  parts.push(
    el(
      "ol",
      { class: "history" },
      ...x.history.map((h) =>
        el("li", { text: `${h.at.slice(0, 19).replace("T", " ")} ${h.kind} by ${h.actorId}: ${h.fromValue ?? "–"} → ${h.toValue ?? "–"} (${h.state})${h.note ? ` “${h.note}”` : ""}` }),
      ),
    ),
  );
  if (x.exemplars.length) {
    parts.push(el("h3", { text: "Human-confirmed look-alikes" }));
    const list = el("ul", { class: "exemplars grid" });
    for (const e of x.exemplars) {
      const img = el("img", { class: "thumb", alt: `${e.asset.sku || e.asset.id}: ${e.tag ? e.tag.label : ""}` });
      list.append(el("li", {}, img, el("div", { text: `${e.tag ? e.tag.label : "–"} · ${fmtProb(e.score)}` })));
      showThumbnail(img, e.asset.thumbnail);
    }
    parts.push(list);
  }
  parts.push(el("p", { class: "keys", text: "Esc closes this panel." }));
  panel.replaceChildren(...parts);
}
