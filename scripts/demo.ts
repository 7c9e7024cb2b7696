/**
 * `npm run demo`: the three sample work requests of the original worker's README
 * (GetEmbedding pca, ListGenes, GeneExpression TGFB1 + CST3) against the bundled PBMC 3k
 * dataset, with a short summary of each result. Full responses go to out/demo/.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { openExperiment } from "../src/experiment/open.ts";
import { answerLocally } from "../src/pipeline/local.ts";
import { limitsOf } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import type { WorkResponse } from "../src/result/response.ts";

const root = resolve(import.meta.dirname, "..");
const outDir = join(root, "out", "demo");
const requests = ["get-embedding-pca", "list-genes", "gene-expression"];

const log = createLogger({ format: "text" });
const started = Date.now();
const experiment = await openExperiment({ path: join(root, "data", "pbmc3k"), cacheDir: join(root, ".cellworker-cache"), log });
console.log(`PBMC 3k: ${experiment.nCells} cells x ${experiment.nGenes} genes, ready in ${((Date.now() - started) / 1000).toFixed(1)} s (processed-state cache: ${experiment.cache.status})\n`);
await mkdir(outDir, { recursive: true });

for (const name of requests) {
  const text = await readFile(join(root, "examples", "requests", `${name}.json`), "utf8");
  const request = JSON.parse(text);
  const t = Date.now();
  const file = join(outDir, `${name}.json`);
  const { response } = await answerLocally(text, async () => experiment, { limits: limitsOf(process.env), out: file });
  if (!response) throw new Error(`${name}: no response`);
  console.log(`${request.body.name} (${Date.now() - t} ms): ${summarize(request.body, response)}`);
  console.log(`  full response: ${file.slice(root.length + 1)}\n`);
}

function summarize(body: Record<string, unknown>, response: WorkResponse): string {
  if (response.response.error) {
    return response.response.errorCode === "NOT_IMPLEMENTED" ? "not implemented yet" : `error ${response.response.errorCode}: ${response.response.userMessage}`;
  }
  const result = JSON.parse(response.results[0]!.body);
  switch (body.name) {
    case "GetEmbedding": {
      const cells = (result as ([number, number] | null)[]).filter((p) => p !== null) as [number, number][];
      const fmt = (p: [number, number]) => `[${p[0].toFixed(3)}, ${p[1].toFixed(3)}]`;
      return `${cells.length} cells with [PC1, PC2]; cell 0 ${fmt(cells[0]!)}, cell 1 ${fmt(cells[1]!)}`;
    }
    case "ListGenes": {
      const names = result.gene_names as string[];
      const disp = result.dispersions as number[];
      return `${result.total} genes; top by dispersion: ${names.slice(0, 5).map((g, i) => `${g} (${disp[i]!.toFixed(2)})`).join(", ")}`;
    }
    case "GeneExpression": {
      const genes = result.orderedGeneNames as string[];
      const stats = result.stats as { rawMean: number[]; truncatedMax: number[] };
      const rows = result.cellIds ? `${result.cellIds.length} cells of the requested sets` : "all cells";
      return `${rows}; ` + genes.map((g, i) => `${g} mean ${stats.rawMean[i]!.toFixed(3)}, 95th percentile ${stats.truncatedMax[i]!.toFixed(3)}`).join("; ");
    }
    default:
      return `${response.results[0]!.body.length} bytes`;
  }
}
