// Import by drag-and-drop or file choice (a dry run first: every row checked, nothing written until confirmed; a
// file with a bad row is refused whole), and export of the party's visible picture.

import { request } from "./api.js";
import { $, fromInput, h, toast } from "./dom.js";

function options() {
  return {
    kind: $("i-kind").value, audience: $("i-audience").value,
    start: fromInput($("i-start").value), end: fromInput($("i-end").value),
  };
}

function upload(file, dryRun) {
  const form = new FormData();
  form.append("file", file, file.name);
  return request("POST", "/v1/imports", { body: form, query: { ...options(), dry_run: dryRun ? "true" : "false" } });
}

function errorTable(errors) {
  return h("table", { class: "rows" },
    h("caption", {}, `${errors.length} problem${errors.length > 1 ? "s" : ""}: nothing was imported`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Where"), h("th", { scope: "col" }, "Problem"))),
    h("tbody", {}, errors.map((e) => h("tr", {}, h("td", {}, e.field), h("td", {}, e.message)))));
}

function rowsTable(rows) {
  return h("table", { class: "rows" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Row"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Kind"))),
    h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.row), h("td", {}, r.name ?? r.properties?.name ?? ""),
      h("td", {}, r.kind ?? r.properties?.kind ?? "")))));
}

export async function importFile(file, { onChanged, onError, showTab, onPreview }) {
  const out = $("import-result");
  showTab("files");
  out.replaceChildren(h("p", {}, `Checking ${file.name}…`));
  try {
    const checked = await upload(file, true);
    const errors = checked.errors || [];
    if (errors.length) {
      out.replaceChildren(errorTable(errors));
      return;
    }
    const n = checked.valid ?? (checked.rows || []).length;
    onPreview((checked.rows || []).map((r) => r.feature).filter(Boolean)); // dashed on the map until decided
    const go = h("button", { type: "button", class: "primary" }, `Import ${n} declaration${n === 1 ? "" : "s"}`);
    const cancel = h("button", { type: "button" }, "Cancel");
    out.replaceChildren(h("p", {}, `${file.name}: ${n} row${n === 1 ? "" : "s"} ready.`), rowsTable(checked.rows || []),
      h("div", { class: "buttons" }, go, cancel));
    cancel.addEventListener("click", () => { out.replaceChildren(); onPreview([]); });
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        const done = await upload(file, false);
        onPreview([]);
        const conflicts = done.declarations.reduce((sum, d) => sum + (d.conflicts || []).length, 0);
        out.replaceChildren(h("p", {}, `Imported ${done.imported} declaration${done.imported === 1 ? "" : "s"} from ${file.name}` +
          (conflicts ? `; ${conflicts} conflict${conflicts > 1 ? "s" : ""} opened.` : "; no conflict.")));
        toast(`Imported ${done.imported} from ${file.name}`);
        onChanged();
      } catch (error) { showProblem(out, error); onError(error, true); }
    });
    go.focus();
  } catch (error) {
    showProblem(out, error);
    onError(error, true);
  }
}

function showProblem(out, error) {
  const errors = error.problem?.errors;
  out.replaceChildren(errors && errors.length ? errorTable(errors) : h("p", { class: "error" }, error.message));
}

export function wireFiles(handlers) {
  $("import-file").addEventListener("change", (event) => {
    const [file] = event.target.files;
    if (file) importFile(file, handlers);
    event.target.value = "";
  });
  const drop = $("drop");
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth++; drop.hidden = false; } });
  document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) drop.hidden = true; });
  document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    drop.hidden = true;
    const [file] = e.dataTransfer.files;
    if (file) importFile(file, handlers);
  });
  $("export").addEventListener("click", async () => {
    const format = $("export-format").value;
    try {
      const response = await request("GET", "/v1/export", { query: { format }, raw: true });
      const blob = await response.blob();
      const named = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
      const a = h("a", { href: URL.createObjectURL(blob), download: named ? named[1] : `deconf.${format}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      toast(`Exported your picture as ${format.toUpperCase()}`);
    } catch (error) { handlers.onError(error); }
  });
}
