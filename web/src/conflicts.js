// The conflicts panel: each of the party's conflicts, the other party and distance (never the other's shape),
// with Acknowledge ("we have seen it", never "we approve"); and declarations shared with the party to acknowledge.

import { post } from "./api.js";
import { $, distance, fill, h, shortTime, toast } from "./dom.js";
import { signAck } from "./signing.js";
import { state } from "./state.js";

export function renderConflicts({ onShow, onChanged, onError }) {
  const showResolved = $("show-resolved").checked;
  const shown = state.conflicts.filter((c) => showResolved || c.status !== "resolved");
  const open = state.conflicts.filter((c) => c.status === "open").length;
  $("count-conflicts").textContent = open ? String(open) : "";
  const mine = new Map(state.declarations.map((f) => [f.id, f]));
  fill($("conflicts"), shown.map((c) => conflictItem(c, mine, { onShow, onChanged, onError })), "No conflicts.");
  fill($("notifications"), state.notifications.filter((n) => n.status !== "superseded").map((n) => notificationItem(n, mine, { onChanged, onError })),
    "Nothing to acknowledge.");
}

function conflictItem(c, mine, { onShow, onChanged, onError }) {
  const own = mine.get(c.declaration);
  const [what, ref] = c.declaration.includes(":") ? c.declaration.split(/:(.*)/s) : ["declaration", c.declaration];
  const ownName = own ? `Your “${own.properties.name || "(unnamed)"}”`
    : what === "track" ? `Your track ${ref}` : what === "line" ? `The line ${ref}` : `Your declaration ${ref}`;
  const other = c.other_declaration ? mine.get(c.other_declaration) : null; // its shape is shared with the party
  const kind = { proximity: "Too close", convergence: "Converging", line: "Across the agreed line" }[c.kind] || c.kind;
  const ack = async () => {
    try {
      await post(`/v1/conflicts/${c.id}/ack`, { signature: await signAck(c.digest) });
      toast(`Acknowledged: you have seen the conflict with ${c.other_party}`);
      onChanged();
    } catch (error) { onError(error); }
  };
  return h("li", { class: c.status, dataset: { conflict: c.id } },
    h("div", { class: "title" }, `${kind}: ${c.other_party}`),
    h("div", {}, c.location_uncertainty_m > 0
      ? `closer than the ${distance(c.required_m)} required (at least ${distance(c.distance_m)} apart); within ${distance(c.location_uncertainty_m)} of the marker — the other's declaration is hidden from you`
      : `${distance(c.distance_m)} apart, ${distance(c.required_m)} required`),
    other ? h("div", { class: "meta" }, `against ${c.other_party}'s “${other.properties.name || "(unnamed)"}”`) : null,
    h("div", { class: "meta" }, `${ownName} · ${shortTime(c.time.start)} → ${shortTime(c.time.end)}`),
    h("div", { class: "meta" }, `${c.status}${c.other_acknowledged ? " · seen by " + c.other_party : ""}` +
      (c.resolved_reason ? ` (${c.resolved_reason})` : "")),
    h("div", { class: "buttons" },
      h("button", { type: "button", onclick: () => onShow(c) }, "Show on map"),
      c.status === "open" ? h("button", { type: "button", class: "primary", onclick: ack,
        "aria-label": `Acknowledge the conflict with ${c.other_party}` }, "Acknowledge") : null));
}

function notificationItem(n, mine, { onChanged, onError }) {
  const shared = mine.get(n.declaration);
  const name = shared ? shared.properties.name || "(unnamed)" : n.declaration;
  const ack = async () => {
    try {
      await post(`/v1/notifications/${n.id}/ack`, { signature: await signAck(n.digest) });
      toast(`Acknowledged receipt of ${n.from}'s declaration`);
      onChanged();
    } catch (error) { onError(error); }
  };
  const waiting = n.status === "pending" || n.status === "overdue";
  return h("li", { class: waiting ? "open" : "resolved" },
    h("div", { class: "title" }, `${n.from}: ${name}`),
    h("div", { class: "meta" }, `version ${n.version} · ${n.status}` + (n.ack_by ? ` · acknowledge by ${shortTime(n.ack_by)}` : "")),
    !waiting ? null : h("div", { class: "buttons" },
      h("button", { type: "button", onclick: ack, "aria-label": `Acknowledge receipt of ${name}` }, "Acknowledge receipt")));
}
