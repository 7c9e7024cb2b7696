/**
 * `node bench/summarize.ts bench/results/*.json`: the step × dataset table (cellworker ms,
 * cellworker on one CPU, each reference's ms, the faster reference, ratio) and the targets of
 * `npm run bench` outputs, as Markdown. A reference column appears when any file measured it.
 */
import { readFileSync } from "node:fs";

type Json = Record<string, any>;
const files = process.argv.slice(2);
const fmt = (x: unknown): string => (typeof x === "number" ? (x >= 100 ? Math.round(x).toLocaleString("en-US") : String(x)) : "n/a");
const docs = files.map((file) => JSON.parse(readFileSync(file, "utf8")) as Json);
const rows = docs.flatMap((doc) => doc.results.table as Json[]);
const hasScanpy = rows.some((row) => "scanpyMs" in row);
const hasSeurat = rows.some((row) => "seuratMs" in row) || !hasScanpy;
const refHeads = [...(hasSeurat ? ["Seurat ms (1 thread)"] : []), ...(hasScanpy ? ["scanpy ms (1 thread)"] : [])];
const two = hasSeurat && hasScanpy;
const lines: string[] = [
  `| dataset | step | cellworker ms (2 cores) | cellworker ms (1 CPU) | ${refHeads.join(" | ")} | ${two ? "faster reference | ratio (1 CPU / faster)" : `ratio (1 CPU / ${hasScanpy ? "scanpy" : "Seurat"})`} |`,
  `|---|---|---:|---:|${refHeads.map(() => "---:|").join("")}${two ? "---|" : ""}---:|`,
];
for (const row of rows) {
  // files from before the scanpy reference have seuratMs + ratio and no fasterReference
  const faster = row.fasterReference ?? ("seuratMs" in row ? "seurat" : null);
  const refs = [...(hasSeurat ? [fmt(row.seuratMs)] : []), ...(hasScanpy ? [fmt(row.scanpyMs)] : [])];
  lines.push(`| ${row.dataset} | ${row.step} | ${fmt(row.cellworkerMs)} | ${fmt(row.cellworkerOneCpuMs)} | ${refs.join(" | ")} | ${two ? `${faster ?? "n/a"} | ` : ""}${fmt(row.ratio)} |`);
}
const targets: string[] = [];
const extras: string[] = [];
for (const doc of docs) {
  for (const r of doc.results.results as Json[]) {
    for (const t of r.targets as Json[]) {
      if (t.met === true) continue;
      const v = t.value ?? t.valueMs ?? t.valueMiB ?? null;
      targets.push(`- ${r.dataset}: ${t.target}: ${t.met === false ? "MISSED" : "not measured"} (${v === null ? t.note ?? "n/a" : v})`);
    }
    const cw = r.cellworker ?? {};
    const s = r.seurat;
    const p = r.scanpy;
    extras.push(`- ${r.dataset}: ${cw.cells} cells, ${cw.nonZeros} non-zeros; peak RSS cellworker ${cw.peakRssMiB?.max} MiB` +
      (s ? `, Seurat ${s.peakRssMiB} MiB` : "") + (p ? `, scanpy ${p.peakRssMiB} MiB` : "") +
      `; cold start cellworker read ${cw.coldStart?.readMs} ms + preprocess ${cw.coldStart?.preprocessMs} ms` +
      (s ? `, Seurat read ${s.coldStart?.readMs} ms + processing ${s.coldStart?.processingMs} ms` : "") +
      (p ? `, scanpy read ${p.coldStart?.readMs} ms + processing ${p.coldStart?.processingMs} ms (again in the same process: ${p.coldStartAgainSameProcess?.totalMs} ms)` : "") +
      (cw.coldStartFromH5 ? `; from .h5: cellworker read ${cw.coldStartFromH5.readMs} ms, Seurat Read10X_h5 ${s?.coldStart?.readH5Ms} ms` : "") +
      `; wall clock: cellworker ${cw.seconds} s, 1 CPU ${r.cellworkerOneCpu?.seconds} s` +
      (s ? `, Seurat ${s.seconds} s` : "") + (p ? `, scanpy ${p.seconds} s` : ""));
  }
}
process.stdout.write([...lines, "", "Targets not met:", ...(targets.length ? targets : ["- none"]), "", ...extras, ""].join("\n"));
