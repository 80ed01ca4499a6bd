// Small DOM helpers. Text from the server is only ever set as text (never as HTML): no markup injection.

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items : [h("li", { class: "empty" }, empty)]));
}

let toastTimer = null;
export function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 4000);
}

// Times: shown and entered in UTC, as the API speaks (RFC 3339 with Z).
export function shortTime(iso) {
  if (!iso) return "open-ended";
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z");
}

export function toInput(iso) {
  return iso ? iso.slice(0, 16) : "";
}

export function fromInput(value) {
  return value ? `${value.length === 16 ? value + ":00" : value}Z` : null;
}

export function distance(m) {
  if (m === null || m === undefined) return "?";
  return m >= 1000 ? `${(m / 1000).toFixed(m >= 10000 ? 0 : 2)} km` : `${Math.round(m)} m`;
}
