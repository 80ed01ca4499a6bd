// Parties and their status, the links messages travel over, and the lines agreed between parties.

import { post } from "./api.js";
import { $, fill, h, toast } from "./dom.js";
import { signAck, signAgree } from "./signing.js";
import { state } from "./state.js";

function lineItem(l, { onChanged, onError }) {
  const answer = (decision) => async () => {
    try {
      const signature = await (decision === "accept" ? signAgree(l.digest) : signAck(l.digest));
      const answered = await post(`/v1/lines/${l.id}/${decision}`, signature ? { signature } : {});
      const n = (answered.conflicts || []).length;
      toast(`Line ${decision === "accept" ? "accepted" : "rejected"}` + (n ? `: ${n} conflict${n > 1 ? "s" : ""} across it` : ""));
      onChanged();
    } catch (error) { onError(error); }
  };
  const mine = l.with === state.me.party && l.status === "proposed"; // proposed to this party: it answers
  return h("li", {},
    h("div", { class: "title" }, `${l.left} | ${l.right}`),
    h("div", { class: "meta" }, `${l.id} · proposed by ${l.proposer} · ${l.status} · tolerance ${l.tolerance_m} m`),
    mine ? h("div", { class: "buttons" },
      h("button", { type: "button", class: "primary", onclick: answer("accept") }, "Accept line"),
      h("button", { type: "button", onclick: answer("reject") }, "Reject line")) : null);
}

export function renderParties(handlers) {
  fill($("parties"), state.parties.map((p) => h("li", { class: p.id === state.me.party ? "own" : "" },
    h("div", { class: "title" }, `${p.name} `, h("span", { class: `badge ${p.status}` }, p.status)),
    h("div", { class: "meta" }, p.id + (p.id === state.me.party ? " (you)" : "") + (p.public_key ? " · signs" : "")))),
  "No parties.");
  fill($("links"), state.links.map((l) => h("li", {},
    h("div", {}, `${l.a} — ${l.b}`), h("div", { class: "meta" }, l.relay === "review" ? "relayed after review" : "relayed automatically"))),
  "No links.");
  fill($("lines"), state.lines.map((l) => lineItem(l, handlers)), "No lines.");
}

export function partyOptions(select, { exceptMe = true } = {}) {
  const keep = select.value;
  select.replaceChildren(...state.parties.filter((p) => !exceptMe || p.id !== state.me.party)
    .map((p) => h("option", { value: p.id }, `${p.name} (${p.id})`)));
  if (keep) select.value = keep;
}
