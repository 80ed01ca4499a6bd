// Declaring on the map: draw a shape (a circle is a point with a radius), fill in kind, times, altitude and
// audience, submit; edit or cancel one's own. Conflicts that result come back in the answer and on the live stream.

import { request } from "./api.js";
import { $, distance, fill, fromInput, h, shortTime, toast, toInput } from "./dom.js";
import { geometryOf, L } from "./map.js";
import { isOwn, state } from "./state.js";

let draft = null; // {layer, editing: Feature | null}

const KIND_OF = { Circle: "site", Marker: "site", Line: "route", Polygon: "area", Rectangle: "area" };

export function wireDeclarations(map, { onChanged, onError, showTab }) {
  map.on("pm:create", ({ shape, layer }) => {
    discard(map);
    const { radius_m } = geometryOf(layer);
    draft = { layer, editing: null };
    openForm({ kind: KIND_OF[shape] || "area", radius_m: radius_m ?? (shape === "Line" ? 500 : 0) });
    showTab("declarations");
    $("f-name").focus();
  });
  $("f-discard").addEventListener("click", () => { discard(map); onChanged(); });
  $("new-by-coordinates").addEventListener("click", () => {
    discard(map);
    draft = { layer: null, editing: null };
    openForm({ kind: "site", radius_m: 500 });
    $("f-coords-block").hidden = false;
    $("f-coords").focus();
  });
  $("f-kind").addEventListener("change", showSpeed);
  $("declaration-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await submit(map, { onChanged, onError });
  });
  $("f-cancel-declaration").addEventListener("click", async () => {
    const feature = draft && draft.editing;
    if (!feature || !window.confirm(`Cancel “${feature.properties.name}”? It stays in the record; its conflicts resolve.`)) return;
    try {
      await request("DELETE", `/v1/declarations/${feature.id}`);
      toast(`Cancelled “${feature.properties.name}”`);
      discard(map);
      onChanged();
    } catch (error) { formError(error); onError(error, true); }
  });
}

function showSpeed() {
  $("f-speed-block").hidden = $("f-kind").value !== "route";
}

// Typed coordinates (a GPS reading, a list from a report): one "lat, lon" a line. One point is a Point; a list
// whose last point repeats the first is an area; any other list a line.
export function parseCoordinates(text) {
  const points = [];
  for (const [i, line] of text.split(/\n/).entries()) {
    if (!line.trim()) continue;
    const numbers = line.trim().split(/[\s,;]+/).map(Number);
    const [lat, lon] = numbers;
    if (numbers.length !== 2 || !Number.isFinite(lat) || !Number.isFinite(lon)) {
      throw new Error(`coordinates, line ${i + 1}: write "lat, lon", such as 35.3352, 40.1405`);
    }
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      throw new Error(`coordinates, line ${i + 1}: latitude within ±90 and longitude within ±180, in that order`);
    }
    points.push([lon, lat]);
  }
  if (!points.length) throw new Error("coordinates: type at least one point, as lat, lon");
  if (points.length === 1) return { type: "Point", coordinates: points[0] };
  const [first, last] = [points[0], points[points.length - 1]];
  if (points.length >= 4 && first[0] === last[0] && first[1] === last[1]) return { type: "Polygon", coordinates: [points] };
  return { type: "LineString", coordinates: points };
}

function openForm(values, editing = null) {
  const form = $("declaration-form");
  form.hidden = false;
  $("f-coords-block").hidden = true;
  $("form-title").textContent = editing ? `Edit “${editing.properties.name}”` : "New declaration";
  $("f-submit").textContent = editing ? "Save changes" : "Declare";
  $("f-cancel-declaration").hidden = !editing;
  $("form-error").textContent = "";
  const now = new Date();
  const start = values.start || new Date(Math.floor(now.getTime() / 60000) * 60000).toISOString();
  const end = values.end === undefined ? new Date(now.getTime() + 86400000).toISOString() : values.end;
  $("f-name").value = values.name || "";
  $("f-kind").value = values.kind || "area";
  $("f-start").value = toInput(start);
  $("f-end").value = toInput(end);
  $("f-lower").value = values.altitude?.lower_m ?? 0;
  $("f-upper").value = values.altitude?.upper_m ?? "";
  $("f-radius").value = values.radius_m ?? 0;
  $("f-separation").value = values.separation_m ?? "";
  $("f-speed").value = values.speed_mps ?? "";
  showSpeed();
  const audience = values.audience ?? "conflicts";
  const mode = Array.isArray(audience) ? "list" : audience;
  for (const radio of document.querySelectorAll("input[name=audience]")) radio.checked = radio.value === mode;
  const chosen = new Set(Array.isArray(audience) ? audience : []);
  $("f-audience-parties").replaceChildren(...state.parties.filter((p) => p.id !== state.me.party).map((p) =>
    h("label", { class: "inline" }, h("input", { type: "checkbox", value: p.id, checked: chosen.has(p.id) }), p.name)));
}

function formError(error) {
  $("form-error").textContent = error.describe ? error.describe() : String(error);
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function featureFromForm() {
  const { geometry, radius_m } = draft.layer ? geometryOf(draft.layer) : { geometry: parseCoordinates($("f-coords").value), radius_m: null };
  if (radius_m !== null) $("f-radius").value = radius_m;
  const mode = document.querySelector("input[name=audience]:checked").value;
  const audience = mode === "list"
    ? [...document.querySelectorAll("#f-audience-parties input:checked")].map((c) => c.value) : mode;
  const upper = number("f-upper");
  const properties = {
    kind: $("f-kind").value,
    name: $("f-name").value,
    start: fromInput($("f-start").value),
    end: fromInput($("f-end").value),
    altitude: { lower_m: number("f-lower") ?? 0, upper_m: upper },
    radius_m: number("f-radius") ?? 0,
    audience,
  };
  const separation = number("f-separation");
  if (separation !== null) properties.separation_m = separation;
  const speed = number("f-speed");
  if (speed !== null && properties.kind === "route") properties.speed_mps = speed;
  const times = draft.editing?.properties.times; // a route timed vertex by vertex keeps its times
  if (times && speed === null) {
    if (geometry.type !== "LineString" || geometry.coordinates.length !== times.length) {
      throw new Error(`this route gives a time for each of its ${times.length} points: keep that many points, ` +
        "or give a speed instead");
    }
    properties.times = times;
  }
  return { type: "Feature", geometry, properties };
}

async function submit(map, { onChanged, onError }) {
  if (!draft) return;
  $("form-error").textContent = "";
  try {
    const feature = featureFromForm();
    const editing = draft.editing;
    const written = editing
      ? await request("PUT", `/v1/declarations/${editing.id}`, { body: feature, ifMatch: editing.properties.version })
      : await request("POST", "/v1/declarations", { body: feature });
    const n = written.conflicts.length;
    toast(`${editing ? "Saved" : "Declared"} “${feature.properties.name}”` +
      (n ? ` — ${n} conflict${n > 1 ? "s" : ""}: see the Conflicts panel` : " — no conflict"));
    discard(map);
    onChanged();
  } catch (error) {
    formError(error);
    onError(error, true);
  }
}

export const editing = () => Boolean(draft && draft.editing);

export function discard(map) {
  if (draft && draft.layer) {
    if (draft.editing) draft.layer.pm.disable();
    else map.removeLayer(draft.layer);
  }
  draft = null;
  $("declaration-form").hidden = true;
}

// Edit one's own declaration: its shape becomes editable on the map, its properties in the form.
export function edit(map, feature, layer, showTab) {
  discard(map);
  draft = { layer, editing: feature };
  layer.pm.enable({ allowSelfIntersection: false });
  openForm(feature.properties, feature);
  showTab("declarations");
  $("f-name").focus();
}

export function renderDeclarationLists({ onShow }) {
  const item = (f) => h("li", { class: isOwn(f) ? "own" : "other", dataset: { declaration: f.id } },
    h("div", { class: "title" }, f.properties.name || "(unnamed)"),
    h("div", { class: "meta" }, `${f.properties.kind} · ${isOwn(f) ? "yours" : f.properties.party} · ` +
      `${shortTime(f.properties.start)} → ${shortTime(f.properties.end)}` +
      (f.properties.radius_m ? ` · radius ${distance(f.properties.radius_m)}` : "")),
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => onShow(f),
      "aria-label": `${isOwn(f) ? "Show / edit" : "Show"} “${f.properties.name}”` }, isOwn(f) ? "Show / edit" : "Show")));
  fill($("own-declarations"), state.declarations.filter(isOwn).map(item), "You have declared nothing active.");
  fill($("other-declarations"), state.declarations.filter((f) => !isOwn(f)).map(item), "Nothing is shared with you.");
}

export { L };
