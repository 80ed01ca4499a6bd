// Live changes: the party's Server-Sent Events stream (/v1/events), read with fetch so that the token travels in
// the Authorization header (EventSource cannot send one, and a token in a URL ends up in logs). Resumes from the
// last event id after any break, with a growing pause.

import { headers } from "./api.js";

export function follow({ onEvent, onState }) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let pause_ms = 500;

  async function once() {
    controller = new AbortController();
    const extra = lastId ? { "Last-Event-ID": lastId, Accept: "text/event-stream" } : { Accept: "text/event-stream" };
    const response = await fetch("/v1/events", { headers: headers(extra), signal: controller.signal, cache: "no-store" });
    if (!response.ok) throw new Error(`events: HTTP ${response.status}`);
    onState(true);
    pause_ms = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        dispatch(frame);
      }
    }
  }

  function dispatch(frame) {
    let id = null, type = "message";
    const data = [];
    for (const line of frame.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (id !== null) lastId = id;
    if (!data.length) return;
    let parsed = null;
    try { parsed = JSON.parse(data.join("\n")); } catch { parsed = data.join("\n"); }
    onEvent(type, parsed);
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (error) {
        if (stopped) return;
      }
      onState(false);
      await new Promise((resolve) => setTimeout(resolve, pause_ms));
      pause_ms = Math.min(pause_ms * 2, 10000);
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
