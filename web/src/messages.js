// Messages: inbox (acknowledge), outbox (each hop's status), relay box (approve or refuse what passes through the
// party), compose. Messages reach parties with no direct line through intermediaries; the originator's signature
// is kept end to end by the server.

import { post } from "./api.js";
import { $, fill, fromInput, h, shortTime, toast } from "./dom.js";
import { partyOptions } from "./parties.js";
import { signAck } from "./signing.js";
import { state } from "./state.js";

export function renderMessages({ onChanged, onError }) {
  const box = state.box;
  for (const b of document.querySelectorAll("#pane-messages .subtabs button")) {
    b.setAttribute("aria-pressed", String(b.dataset.box === box));
  }
  const unread = state.messages.inbox.filter((m) => m.status !== "acknowledged").length + state.messages.relay.length;
  $("count-messages").textContent = unread ? String(unread) : "";
  $("compose").hidden = box !== "compose";
  $("messages").hidden = box === "compose";
  if (box === "compose") {
    partyOptions($("m-to"));
    return;
  }
  const empty = { inbox: "No messages to you.", outbox: "You have sent nothing.", relay: "Nothing awaits your review." }[box];
  fill($("messages"), state.messages[box].map((m) => messageItem(m, box, { onChanged, onError })), empty);
}

function hops(m) {
  return h("ol", { class: "hops", "aria-label": "Route" },
    m.hops.map((hop) => h("li", {}, `${hop.party} (${hop.role}): ${hop.status}` +
      (hop.at ? ` ${shortTime(hop.at)}` : "") + (hop.note ? ` — “${hop.note}”` : ""))));
}

function messageItem(m, box, { onChanged, onError }) {
  const act = (label, fn) => h("button", { type: "button", onclick: async () => {
    try { await fn(); onChanged(); } catch (error) { onError(error); }
  } }, label);
  const buttons = [];
  if (box === "inbox" && m.status !== "acknowledged") {
    buttons.push(act("Acknowledge", async () => {
      await post(`/v1/messages/${m.id}/ack`, { signature: await signAck(m.digest) });
      toast(`Acknowledged: ${m.from} is told you received it`);
    }));
  }
  let note = null;
  if (box === "relay") {
    note = h("input", { "aria-label": `Note on “${m.subject}”`, placeholder: "Note (the sender is told on refusal)" });
    buttons.push(act("Approve", async () => {
      await post(`/v1/messages/${m.id}/relay`, { decision: "approve", note: note.value || null });
      toast("Passed on");
    }));
    buttons.push(act("Refuse", async () => {
      await post(`/v1/messages/${m.id}/relay`, { decision: "refuse", note: note.value || null });
      toast("Refused: the sender is told");
    }));
  }
  const cls = m.status === "refused" ? "open" : m.status === "acknowledged" ? "resolved" : "acknowledged";
  return h("li", { class: cls, dataset: { message: m.id } },
    h("div", { class: "title" }, m.subject),
    h("div", { class: "meta" }, `${m.from} → ${m.to} · ${m.status}${m.signed ? " · signed" : ""}` +
      (m.ack_by ? ` · acknowledge by ${shortTime(m.ack_by)}` : "") + (m.overdue ? " · OVERDUE" : "")),
    h("div", { class: "body" }, m.body),
    m.waiting ? h("div", { class: "meta" }, `waiting on ${m.waiting.on}: ${m.waiting.reason}`) : null,
    hops(m),
    note,
    buttons.length ? h("div", { class: "buttons" }, buttons) : null);
}

export function wireCompose({ onChanged, onError }) {
  for (const b of document.querySelectorAll("#pane-messages .subtabs button")) {
    b.addEventListener("click", () => { state.box = b.dataset.box; onChanged(); });
  }
  $("compose").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("compose-error").textContent = "";
    const body = { to: $("m-to").value, subject: $("m-subject").value, body: $("m-body").value };
    const ackBy = fromInput($("m-ack-by").value);
    if (ackBy) body.ack_by = ackBy;
    try {
      const sent = await post("/v1/messages", body);
      toast(`Sent by ${sent.route.join(" → ")}`);
      $("compose").reset();
      state.box = "outbox";
      onChanged();
    } catch (error) {
      $("compose-error").textContent = error.describe ? error.describe() : String(error);
      onError(error, true);
    }
  });
}
