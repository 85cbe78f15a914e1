// Shared by the review, search and quality pages: the API key (sessionStorage), GraphQL calls
// to the public /graphql endpoint, thumbnails (inlined in the answers) and small DOM helpers.
import { WHO } from "./documents.js";

export const KEY_NAME = "tagtrail.apiKey";

export class GraphQLFailure extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_NAME);
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  return unwrap(response);
}

/** A GraphQL multipart request (graphql-multipart-request-spec): one file at `path`. */
export async function gqlUpload(query, variables, path, file) {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables }));
  form.append("map", JSON.stringify({ 0: [path] }));
  form.append("0", file, file.name || "photo");
  const response = await fetch("/graphql", { method: "POST", headers: authHeaders(), body: form });
  return unwrap(response);
}

async function unwrap(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLFailure(`HTTP ${response.status} from /graphql`, "HTTP");
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new GraphQLFailure(first.message, (first.extensions || {}).code || "GRAPHQL");
  }
  return body.data;
}

/** Show an asset's thumbnail in `img`: `thumbnail` is the asset's `thumbnail { dataUrl }`
 * from the same GraphQL answer (null: none kept, shown as a placeholder), so a page of cards
 * needs no request per picture, and no API key has to travel with an <img> request. */
const PLACEHOLDER =
  "data:image/svg+xml;charset=utf-8," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="200">' +
      '<rect width="100%" height="100%" fill="#eef0f3"/>' +
      '<text x="50%" y="50%" font-family="sans-serif" font-size="14" text-anchor="middle" ' +
      'fill="#5b6470">no thumbnail</text></svg>',
  );

export function showThumbnail(img, thumbnail) {
  img.alt = img.alt || "product photo";
  img.decoding = "async";
  if (thumbnail && thumbnail.dataUrl) {
    img.src = thumbnail.dataUrl;
    return;
  }
  img.src = PLACEHOLDER;
  img.alt = `${img.alt} (no thumbnail kept)`;
  img.classList.add("placeholder");
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A colour swatch with its name beside it (never colour alone). */
export function swatch(hex, name) {
  if (!hex) return el("span", { class: "swatch-pair" }, el("span", { class: "swatch-name", text: name || "?" }));
  return el(
    "span",
    { class: "swatch-pair" },
    el("span", { class: "swatch", style: `background:${hex}`, title: hex, "aria-hidden": "true" }),
    el("span", { class: "swatch-name", text: name || hex }),
  );
}

export function say(region, message, kind = "info") {
  region.textContent = message;
  region.dataset.kind = kind;
}

/**
 * Sign in: ask for an API key unless the server is open (dev mode without keys), check it
 * with `whoami`, keep it in sessionStorage. Resolves with the principal {name, role}.
 */
export function signIn(container) {
  return new Promise((resolve) => {
    const status = el("span", { class: "who", role: "status" });
    const form = el(
      "form",
      { class: "signin", "aria-label": "Sign in" },
      el("label", { for: "api-key", text: "API key" }),
      el("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off" }),
      el("button", { type: "submit", text: "Sign in" }),
    );
    const out = el("button", { type: "button", class: "signout", hidden: true, text: "Sign out" });
    const message = el("span", { class: "signin-error", role: "alert" });
    container.replaceChildren(status, form, out, message);

    let latest = 0; // only the newest check speaks: an older answer may arrive after it
    async function check() {
      const attempt = ++latest;
      const tried = apiKey();
      try {
        const data = await gql(WHO);
        if (attempt !== latest) return false;
        status.textContent = `Signed in as ${data.whoami.name} (${data.whoami.role})`;
        form.hidden = true;
        out.hidden = !apiKey();
        message.textContent = "";
        document.body.dataset.role = data.whoami.role;
        resolve(data.whoami);
        return true;
      } catch (exc) {
        // The first check (no key yet) can fail after the key was typed in: keep that key.
        if (attempt !== latest) return false;
        if (tried) message.textContent = `Key refused: ${exc.message}`;
        if (apiKey() === tried) sessionStorage.removeItem(KEY_NAME);
        form.hidden = false;
        form.querySelector("input").focus();
        return false;
      }
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = form.querySelector("input").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY_NAME, value);
      await check();
    });
    out.addEventListener("click", () => {
      sessionStorage.removeItem(KEY_NAME);
      location.reload();
    });
    check();
  });
}

export function fmtProb(p) {
  return p === null || p === undefined ? "–" : `${Math.round(p * 100)} %`;
}
