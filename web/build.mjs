// Builds the map page into ../src/deconfliction/web/static (not committed): one script, one stylesheet, the
// offline basemap (Natural Earth countries from world-atlas, the scenario's river), index.html. No CDN, no tiles.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "deconfliction", "web", "static");
const scenario = join(here, "..", "src", "deconfliction", "scenario", "deir_ez_zor.json");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "basemap"), { recursive: true });

await build({
  entryPoints: { app: join(here, "src", "main.js"), style: join(here, "src", "app.css") },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "assets/[name]-[hash]",
  legalComments: "linked",
  logLevel: "warning",
});

copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
copyFileSync(join(here, "src", "favicon.svg"), join(out, "favicon.svg"));
copyFileSync(join(here, "node_modules", "world-atlas", "countries-50m.json"), join(out, "basemap", "countries-50m.json"));
copyFileSync(join(here, "node_modules", "world-atlas", "LICENSE"), join(out, "basemap", "LICENSE-world-atlas.txt"));
const { river, story } = JSON.parse(readFileSync(scenario, "utf8"));
const rivers = {
  type: "FeatureCollection",
  features: [{ type: "Feature", geometry: river, properties: { name: "Euphrates", note: story } }],
};
writeFileSync(join(out, "basemap", "rivers.geojson"), JSON.stringify(rivers));
console.log(`built the map page into ${out}`);
