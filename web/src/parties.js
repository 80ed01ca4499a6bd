// Parties and their status, the links messages travel over, and the lines agreed between parties.

import { $, fill, h } from "./dom.js";
import { state } from "./state.js";

export function renderParties() {
  fill($("parties"), state.parties.map((p) => h("li", { class: p.id === state.me.party ? "own" : "" },
    h("div", { class: "title" }, `${p.name} `, h("span", { class: `badge ${p.status}` }, p.status)),
    h("div", { class: "meta" }, p.id + (p.id === state.me.party ? " (you)" : "") + (p.public_key ? " · signs" : "")))),
  "No parties.");
  fill($("links"), state.links.map((l) => h("li", {},
    h("div", {}, `${l.a} — ${l.b}`), h("div", { class: "meta" }, l.relay === "review" ? "relayed after review" : "relayed automatically"))),
  "No links.");
  fill($("lines"), state.lines.map((l) => h("li", {},
    h("div", { class: "title" }, `${l.left} | ${l.right}`),
    h("div", { class: "meta" }, `${l.status} · tolerance ${l.tolerance_m} m`))), "No lines.");
}

export function partyOptions(select, { exceptMe = true } = {}) {
  const keep = select.value;
  select.replaceChildren(...state.parties.filter((p) => !exceptMe || p.id !== state.me.party)
    .map((p) => h("option", { value: p.id }, `${p.name} (${p.id})`)));
  if (keep) select.value = keep;
}
