/**
 * `node bench/summarize.ts bench/results/*.json`: the step × dataset table (cellworker ms,
 * cellworker on one CPU, Seurat ms, ratio) and the targets of `npm run bench` outputs, as Markdown.
 */
import { readFileSync } from "node:fs";

type Json = Record<string, any>;
const files = process.argv.slice(2);
const fmt = (x: unknown): string => (typeof x === "number" ? (x >= 100 ? Math.round(x).toLocaleString("en-US") : String(x)) : "n/a");
const lines: string[] = [
  "| dataset | step | cellworker ms (2 cores) | cellworker ms (1 CPU) | Seurat ms (1 thread) | ratio (1 CPU / Seurat) |",
  "|---|---|---:|---:|---:|---:|",
];
const targets: string[] = [];
const extras: string[] = [];
for (const file of files) {
  const doc = JSON.parse(readFileSync(file, "utf8")) as Json;
  for (const row of doc.results.table as Json[]) {
    lines.push(`| ${row.dataset} | ${row.step} | ${fmt(row.cellworkerMs)} | ${fmt(row.cellworkerOneCpuMs)} | ${fmt(row.seuratMs)} | ${fmt(row.ratio)} |`);
  }
  for (const r of doc.results.results as Json[]) {
    for (const t of r.targets as Json[]) {
      if (t.met === true) continue;
      const v = t.value ?? t.valueMs ?? t.valueMiB ?? null;
      targets.push(`- ${r.dataset}: ${t.target}: ${t.met === false ? "MISSED" : "not measured"} (${v === null ? t.note ?? "n/a" : v})`);
    }
    const cw = r.cellworker ?? {};
    const s = r.seurat ?? {};
    extras.push(`- ${r.dataset}: ${cw.cells} cells, ${cw.nonZeros} non-zeros; peak RSS cellworker ${cw.peakRssMiB?.max} MiB, Seurat ${s.peakRssMiB} MiB; ` +
      `cold start cellworker read ${cw.coldStart?.readMs} ms + preprocess ${cw.coldStart?.preprocessMs} ms, Seurat read ${s.coldStart?.readMs} ms + processing ${s.coldStart?.processingMs} ms` +
      (cw.coldStartFromH5 ? `; from .h5: cellworker read ${cw.coldStartFromH5.readMs} ms, Seurat Read10X_h5 ${s.coldStart?.readH5Ms} ms` : "") +
      `; wall clock: cellworker ${cw.seconds} s, 1 CPU ${r.cellworkerOneCpu?.seconds} s, Seurat ${s.seconds} s`);
  }
}
process.stdout.write([...lines, "", "Targets not met:", ...(targets.length ? targets : ["- none"]), "", ...extras, ""].join("\n"));
