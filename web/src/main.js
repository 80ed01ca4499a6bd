// The common operating picture: sign in with a party token, see the party's picture on an offline map, declare,
// acknowledge, message, import and export; changes arrive live.

import { ApiError, features, get, session } from "./api.js";
import { renderConflicts } from "./conflicts.js";
import { discard, edit, editing, renderDeclarationLists, wireDeclarations } from "./declarations.js";
import { $, h, toast } from "./dom.js";
import { wireFiles } from "./files.js";
import { follow } from "./live.js";
import {
  activeAt, addBasemap, addTimeFilter, conflictLayer, createMap, declarationLayer, describeDeclaration, enableDrawing,
  L, lineLayer, previewLayer, trackLayer,
} from "./map.js";
import { renderMessages, wireCompose } from "./messages.js";
import { renderParties } from "./parties.js";
import { isOwn, state } from "./state.js";

let map = null;
let layers = null;
let layerOf = new Map(); // declaration id → its layer on the map
let stopLive = null;
let fitted = false;
let shownAt = null; // RFC 3339: the map shows what is active then; null: every time
const pending = new Set();
let refreshTimer = null;
let trackTimer = null;
// Position reports are not events (a fleet reports many times a second): the party's tracks are read again this
// often while the page is in view.
const TRACKS_EVERY_MS = 2000;

// ---- tabs (WAI-ARIA tabs: arrow keys move between them) ----
const TABS = ["conflicts", "declarations", "messages", "parties", "files"];

function showTab(name) {
  for (const tab of TABS) {
    const selected = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`pane-${tab}`).hidden = !selected;
  }
}

function wireTabs() {
  TABS.forEach((tab, i) => {
    const button = $(`tab-${tab}`);
    button.addEventListener("click", () => showTab(tab));
    button.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const next = TABS[(i + step + TABS.length) % TABS.length];
      showTab(next);
      $(`tab-${next}`).focus();
    });
  });
}

// ---- errors: say what to do next ----
function onError(error, quiet = false) {
  if (error instanceof ApiError && error.status === 401) {
    signOut("Your token is no longer accepted: sign in again.");
    return;
  }
  if (!quiet) toast(error.describe ? error.describe() : String(error));
  console.warn(error);
}

// ---- loading what the party may see ----
const LOADERS = {
  parties: async () => { state.parties = await get("/v1/parties"); state.links = await get("/v1/links"); },
  declarations: async () => { state.declarations = await features("/v1/declarations", { limit: 500 }); },
  conflicts: async () => {
    state.conflicts = await get("/v1/conflicts");
    state.notifications = await get("/v1/notifications");
  },
  lines: async () => { state.lines = await get("/v1/lines"); },
  tracks: async () => { state.tracks = await get("/v1/tracks"); },
  messages: async () => {
    const [inbox, outbox, relay] = await Promise.all(["inbox", "outbox", "relay"].map((box) => get("/v1/messages", { box })));
    state.messages = { inbox, outbox, relay };
  },
};

// What each live event changes: only those parts are fetched again.
function partsFor(type) {
  const [family] = type.split(".");
  return {
    conflict: ["conflicts"], declaration: ["declarations", "conflicts"], notification: ["conflicts"],
    message: ["messages"], party: ["parties"], link: ["parties"], line: ["lines"], track: ["tracks"],
  }[family] || [];
}

function refresh(parts = Object.keys(LOADERS)) {
  parts.forEach((p) => pending.add(p));
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const now = [...pending];
    pending.clear();
    try {
      await Promise.all(now.map((p) => LOADERS[p]()));
      render();
    } catch (error) { onError(error); }
  }, 50);
}

// ---- drawing the picture ----
function render() {
  renderMap();
  const handlers = { onShow: showOnMap, onChanged: () => refresh(), onError };
  renderConflicts(handlers);
  renderDeclarationLists(handlers);
  renderMessages(handlers);
  renderParties(handlers);
}

// Each group of layers is redrawn only when what it shows has changed: labels do not flicker on every event.
const drawn = {};

function redraw(group, items, draw) {
  const key = JSON.stringify(items);
  if (drawn[group] === key) return;
  drawn[group] = key;
  layers[group].clearLayers();
  if (group === "declarations") layerOf = new Map();
  for (const item of items) draw(item);
}

function renderMap() {
  // While a declaration's shape is being edited its layer stays as it is; the rest is redrawn after.
  const shown = state.declarations.filter((f) => activeAt(f.properties.start, f.properties.end, shownAt));
  $("at-count").textContent = shownAt ? `${shown.length} of ${state.declarations.length} active then` : "";
  if (!editing()) redraw("declarations", shown, (f) => {
    const layer = declarationLayer(f, isOwn(f));
    layer.feature = f;
    layer.on("click", () => popupFor(f, layer));
    layers.declarations.addLayer(layer);
    layerOf.set(f.id, layer);
  });
  const current = (c) => c.status !== "resolved" && conflictAt(c, shownAt);
  redraw("conflicts", state.conflicts.filter(current), (c) => {
    layers.conflicts.addLayer(conflictLayer(c).on("click", () => showConflict(c)));
  });
  redraw("lines", state.lines.filter((l) => l.status !== "withdrawn" && l.status !== "rejected"), (line) => {
    layers.lines.addLayer(lineLayer(line));
  });
  redraw("tracks", state.tracks.filter((t) => t.status !== "ended"), (t) => layers.tracks.addLayer(trackLayer(t)));
  if (!fitted && state.declarations.length) {
    fitted = true;
    map.fitBounds(layers.declarations.getBounds(), { padding: [30, 30], maxZoom: 11, animate: false });
  }
}

function conflictAt(c, at) {
  if (!at) return true;
  const t = Date.parse(at);
  const start = Date.parse(c.time.start);
  const end = c.time.end ? Date.parse(c.time.end) : Infinity;
  const slack_ms = end === start ? 3600e3 : 0; // a closest approach: shown in the hour either side of it
  return start - slack_ms <= t && t <= end + slack_ms;
}

function popupFor(feature, layer) {
  const own = isOwn(feature);
  const buttons = own ? h("div", { class: "buttons" },
    h("button", { type: "button", onclick: () => { map.closePopup(); edit(map, feature, layer, showTab); } }, "Edit"),
  ) : null;
  const content = h("div", {}, h("strong", {}, feature.properties.name || "(unnamed)"),
    ...describeDeclaration(feature).map((line) => h("div", {}, line)), buttons);
  L.popup().setLatLng(layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng()).setContent(content).openOn(map);
}

function showOnMap(item) {
  if (item.location) return showConflict(item);
  const layer = layerOf.get(item.id);
  if (!layer) return;
  // No animation: the view is where the user asked at once (and stays still for whoever draws next).
  if (layer.getBounds) map.fitBounds(layer.getBounds(), { maxZoom: 12, animate: false });
  else map.setView(layer.getLatLng(), 12, { animate: false });
  popupFor(item, layer);
}

function showConflict(c) {
  const [lon, lat] = c.location.coordinates;
  map.setView([lat, lon], Math.max(map.getZoom(), 10), { animate: false });
  showTab("conflicts");
  const item = document.querySelector(`[data-conflict="${c.id}"]`);
  if (item) item.scrollIntoView({ block: "nearest" });
}

// ---- signing in and out ----
async function signIn(token) {
  session.token = token;
  const me = await get("/v1/me");
  if (!me.party) {
    session.token = null;
    throw new Error("This is the administrator's token. The map shows one party's picture: sign in with a party token.");
  }
  state.me = me;
  $("who").textContent = `${me.name} (${me.party}) · ${me.status}` + (me.may_write ? "" : " — read only");
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("live").hidden = false;
  if (!map) {
    map = createMap($("map"));
    layers = {
      declarations: L.featureGroup().addTo(map), lines: L.featureGroup().addTo(map),
      tracks: L.featureGroup().addTo(map), conflicts: L.featureGroup().addTo(map),
    };
    const preview = L.featureGroup().addTo(map);
    addBasemap(map).catch(onError);
    enableDrawing(map);
    addTimeFilter(map, (at) => { shownAt = at; renderMap(); });
    const onPreview = (rows) => {
      preview.clearLayers();
      if (!rows.length) return;
      const drawnRows = previewLayer(rows).addTo(preview);
      map.fitBounds(drawnRows.getBounds(), { padding: [30, 30], maxZoom: 12, animate: false });
    };
    const handlers = { onChanged: () => refresh(), onError, showTab, onPreview };
    wireDeclarations(map, handlers);
    wireCompose(handlers);
    wireFiles(handlers);
  }
  map.invalidateSize();
  refresh();
  clearInterval(trackTimer);
  trackTimer = setInterval(() => { if (document.visibilityState === "visible") refresh(["tracks"]); }, TRACKS_EVERY_MS);
  stopLive = follow({
    onEvent: (type) => refresh(partsFor(type)),
    onState: (on) => {
      $("live").textContent = on ? "live" : "reconnecting…";
      $("live").classList.toggle("on", on);
      if (on) refresh(); // anything missed while the stream was down
    },
  });
}

function signOut(reason) {
  if (stopLive) stopLive();
  stopLive = null;
  clearInterval(trackTimer);
  session.token = null;
  state.me = null;
  if (map) {
    discard(map);
    for (const group of Object.keys(drawn)) {
      delete drawn[group];
      layers[group].clearLayers();
    }
    fitted = false;
  }
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("live").hidden = true;
  $("signin").hidden = false;
  $("who").textContent = "";
  $("signin-error").textContent = reason || "";
  $("token").value = "";
  $("token").focus();
}

function start() {
  wireTabs();
  $("signing-form").addEventListener("submit", (event) => event.preventDefault());
  $("show-resolved").addEventListener("change", () => render());
  $("sign-out").addEventListener("click", () => signOut());
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      await signIn($("token").value.trim());
    } catch (error) {
      session.token = null;
      $("signin-error").textContent = error instanceof ApiError && error.status === 401
        ? "That token is not known to this channel. Check it with whoever registered your party." : error.message;
    }
  });
  if (session.token) signIn(session.token).catch(() => signOut());
  else $("token").focus();
}

document.addEventListener("DOMContentLoaded", start);
