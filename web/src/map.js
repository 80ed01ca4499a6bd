// The map: an offline basemap (Natural Earth countries, the scenario's river), the party's picture drawn over it,
// a legend, and the drawing tools. Nothing here fetches tiles: there is no tile server.

import L from "./leaflet-global.js";
import "@geoman-io/leaflet-geoman-free";
import { feature as topoFeature } from "topojson-client";
import { distance, h, shortTime } from "./dom.js";

export const COLOURS = {
  own: "#1f5fbf", other: "#d9822b", conflict: "#c0262d", line: "#7b3fa6", river: "#3b8fd9", track: "#0b7a4b",
};

export function createMap(element) {
  const map = L.map(element, { zoomControl: true, worldCopyJump: true, preferCanvas: false, minZoom: 2, maxZoom: 16 });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Natural Earth via world-atlas");
  map.setView([35.3, 40.2], 8);
  map.createPane("basemap").style.zIndex = 250;
  addLegend(map);
  return map;
}

export async function addBasemap(map) {
  const [countries, rivers] = await Promise.all([
    fetch("/static/basemap/countries-50m.json").then((r) => r.json()),
    fetch("/static/basemap/rivers.geojson").then((r) => r.json()),
  ]);
  const land = topoFeature(countries, countries.objects.countries);
  L.geoJSON(land, {
    pane: "basemap", interactive: false,
    style: { color: "#8a8f80", weight: 1, fillColor: "#f2efe6", fillOpacity: 1 },
  }).addTo(map);
  L.geoJSON(rivers, {
    pane: "basemap", interactive: false, style: { color: COLOURS.river, weight: 3, opacity: 0.9 },
  }).addTo(map);
}

function addLegend(map) {
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const row = (colour, text, dashed) => h("div", {},
      h("span", { class: "sw", style: `border-color:${colour};${dashed ? "border-style:dashed;" : `background:${colour}33;`}` }), text);
    const open = window.matchMedia("(min-width: 801px)").matches; // folded on a phone: the map comes first
    const box = h("details", { class: "legend", open, "aria-label": "Legend" },
      h("summary", {}, "Legend"),
      row(COLOURS.own, "Your declarations"),
      row(COLOURS.other, "Shared with you"),
      row(COLOURS.conflict, "Conflict (distance / required)"),
      row(COLOURS.line, "Agreed or proposed line", true),
      row(COLOURS.track, "Your live tracks"),
      row(COLOURS.river, "River"));
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  legend.addTo(map);
}

// A declaration's shape as Leaflet layers: a Point with a radius is a circle; a line keeps its buffer as a label.
export function declarationLayer(feature, own) {
  const colour = own ? COLOURS.own : COLOURS.other;
  const style = { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.18 };
  const p = feature.properties;
  const radius = p.radius_m || 0;
  const g = feature.geometry;
  let layer;
  if (g.type === "Point") {
    const at = [g.coordinates[1], g.coordinates[0]];
    layer = radius > 0 ? L.circle(at, { ...style, radius }) : L.circleMarker(at, { ...style, radius: 7 });
  } else if (g.type === "LineString") {
    layer = L.polyline(g.coordinates.map(([x, y]) => [y, x]), { ...style, weight: p.kind === "route" ? 4 : 3 });
  } else {
    layer = L.geoJSON(g, { style }).getLayers()[0];
  }
  layer.bindTooltip(`${p.name || "(unnamed)"} — ${p.party}`, { sticky: true });
  return layer;
}

export function describeDeclaration(feature) {
  const p = feature.properties;
  const alt = p.altitude ? `${p.altitude.lower_m ?? 0}–${p.altitude.upper_m ?? "∞"} m` : "surface and up";
  const audience = Array.isArray(p.audience) ? p.audience.join(", ") : p.audience;
  return [
    `${p.kind} of ${p.party}, version ${p.version ?? feature.version ?? "?"}`,
    `${shortTime(p.start)} → ${shortTime(p.end)}`,
    `altitude ${alt}; radius ${distance(p.radius_m || 0)}; audience ${audience}`,
  ];
}

// Rows of a file about to be imported: dashed grey, so the user sees where they fall before confirming.
export function previewLayer(features) {
  return L.geoJSON({ type: "FeatureCollection", features }, {
    style: { color: "#4b5563", weight: 2, dashArray: "4 4", fillOpacity: 0.08 },
    pointToLayer: (f, at) => (f.properties.radius_m > 0 ? L.circle(at, { radius: f.properties.radius_m }) : L.circleMarker(at, { radius: 6 })),
  });
}

// A conflict with a declaration hidden from the caller was measured against that declaration's covering: it is drawn
// as the area it may lie in (a dashed circle of location_uncertainty_m), labelled with the separation it breaks.
export function conflictLayer(conflict) {
  const [lon, lat] = conflict.location.coordinates;
  const uncertain = conflict.location_uncertainty_m > 0;
  const marker = L.circleMarker([lat, lon], {
    radius: 9, color: COLOURS.conflict, weight: 3, fillColor: COLOURS.conflict,
    fillOpacity: conflict.status === "open" ? 0.6 : 0.2,
  });
  const label = uncertain
    ? `< ${distance(conflict.required_m)} (± ${distance(conflict.location_uncertainty_m)})`
    : `${distance(conflict.distance_m)} / ${distance(conflict.required_m)}`;
  marker.bindTooltip(label, { permanent: true, direction: "right", className: "conflict-label", offset: [8, 0] });
  if (!uncertain) return marker;
  const area = L.circle([lat, lon], {
    radius: conflict.location_uncertainty_m, color: COLOURS.conflict, weight: 2, dashArray: "6 6",
    fillColor: COLOURS.conflict, fillOpacity: 0.08, className: "conflict-area",
  });
  return L.featureGroup([area, marker]);
}

export function lineLayer(line) {
  return L.polyline(line.geometry.coordinates.map(([x, y]) => [y, x]), {
    color: COLOURS.line, weight: 3, dashArray: line.status === "accepted" ? "10 6" : "3 6",
  }).bindTooltip(`Line ${line.left} | ${line.right} (${line.status})`, { sticky: true });
}

export function trackLayer(track) {
  const [lon, lat] = track.position.coordinates;
  return L.circleMarker([lat, lon], { radius: 6, color: COLOURS.track, fillColor: COLOURS.track, fillOpacity: 0.9 })
    .bindTooltip(`${track.id} ${Math.round(track.speed_mps * 3.6)} km/h`, { permanent: true, direction: "top", className: "track-label" });
}

// "Show at": the map keeps only what is active at one moment (UTC); empty shows every time.
export function addTimeFilter(map, onChange) {
  const control = L.control({ position: "topright" });
  control.onAdd = () => {
    const input = h("input", { id: "at-time", type: "datetime-local" });
    const all = h("button", { type: "button", id: "at-all" }, "All times");
    const open = window.matchMedia("(min-width: 801px)").matches; // folded on a phone, like the legend
    const box = h("details", { class: "timebar", open, "aria-label": "Time filter" },
      h("summary", {}, "Time"),
      h("label", { for: "at-time" }, "Show at (UTC)"), input, all, h("span", { id: "at-count", class: "meta" }));
    input.addEventListener("change", () => onChange(input.value ? `${input.value.slice(0, 16)}:00Z` : null));
    all.addEventListener("click", () => { input.value = ""; onChange(null); });
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    return box;
  };
  control.addTo(map);
}

export function activeAt(start, end, at) {
  if (!at) return true;
  const t = Date.parse(at);
  return Date.parse(start) <= t && (end === null || end === undefined || t < Date.parse(end));
}

export function enableDrawing(map) {
  map.pm.addControls({
    position: "topleft",
    drawMarker: false, drawCircleMarker: false, drawText: false, drawRectangle: true,
    drawPolyline: true, drawPolygon: true, drawCircle: true,
    editMode: false, dragMode: false, cutPolygon: false, removalMode: false, rotateMode: false,
  });
  map.pm.setGlobalOptions({ allowSelfIntersection: false, snappable: false });
  // Name the tools for keyboards and screen readers (Geoman draws them as bare links).
  const names = {
    "leaflet-pm-icon-circle": "Draw a point with a radius",
    "leaflet-pm-icon-polyline": "Draw a line or route",
    "leaflet-pm-icon-polygon": "Draw an area",
    "leaflet-pm-icon-rectangle": "Draw a rectangular area",
  };
  for (const [cls, name] of Object.entries(names)) {
    const icon = map.getContainer().querySelector(`.${cls}`);
    const button = icon && icon.closest("a, .button-container > *");
    if (!button) continue;
    button.setAttribute("role", "button");
    button.setAttribute("aria-label", name);
    button.setAttribute("title", name);
    button.setAttribute("tabindex", "0");
    button.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); button.click(); }
    });
  }
}

// A drawn (or edited) Leaflet layer → GeoJSON geometry, and the radius a circle carries.
export function geometryOf(layer) {
  if (layer instanceof L.Circle) {
    const c = layer.getLatLng();
    return { geometry: { type: "Point", coordinates: [round(c.lng), round(c.lat)] }, radius_m: Math.round(layer.getRadius()) };
  }
  const g = layer.toGeoJSON().geometry;
  return { geometry: roundGeometry(g), radius_m: null };
}

const round = (x) => Math.round(x * 1e6) / 1e6;

function roundGeometry(g) {
  const walk = (c) => (typeof c[0] === "number" ? [round(wrap(c[0])), round(c[1])] : c.map(walk));
  return { type: g.type, coordinates: walk(g.coordinates) };
}

function wrap(lon) {
  // Leaflet lets a drawing run past ±180 on a scrolled world copy; the API wants -180..180.
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

export { L };
