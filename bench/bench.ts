/**
 * `npm run bench -- <suite>`: machine-readable benchmarks (JSON on stdout).
 *
 *   load   first load with preprocessing, cached load, peak RSS — for each dataset
 *
 * Datasets: the bundled pbmc3k, and ../shared/data/pbmc_stacked_12k_multisample when present.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

export function datasets(): { name: string; path: string }[] {
  const list = [{ name: "pbmc3k", path: join(root, "data", "pbmc3k") }];
  const stacked = resolve(root, "..", "shared", "data", "pbmc_stacked_12k_multisample");
  if (existsSync(stacked)) list.push({ name: "pbmc_stacked_12k", path: stacked });
  return list;
}

export function environment(): Record<string, unknown> {
  return { node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), date: new Date().toISOString() };
}

function openOnce(path: string, cacheDir: string): Record<string, number | string> {
  const out = execFileSync(process.execPath, [join(root, "bench", "open-once.ts"), path, cacheDir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return JSON.parse(out);
}

function benchLoad(): unknown {
  return datasets().map(({ name, path }) => {
    const cacheDir = mkdtempSync(join(tmpdir(), "cellworker-bench-"));
    try {
      const first = openOnce(path, cacheDir);
      const cached = [1, 2, 3].map(() => openOnce(path, cacheDir));
      const cachedMs = cached.map((c) => c.ms as number).sort((a, b) => a - b);
      return {
        dataset: name,
        cells: first.cells,
        genes: first.genes,
        firstLoadMs: first.ms,
        firstLoadPeakRssMiB: first.peakRssMiB,
        cachedLoadMedianMs: cachedMs[1],
        cachedLoadPeakRssMiB: cached[1]!.peakRssMiB,
        cacheStatus: [first.cache, cached[0]!.cache],
      };
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
}

const suites: Record<string, () => unknown | Promise<unknown>> = { load: benchLoad };

const [suite = "load"] = process.argv.slice(2);
const run = suites[suite];
if (!run) {
  process.stderr.write(`unknown benchmark "${suite}"; choose one of: ${Object.keys(suites).join(", ")}\n`);
  process.exit(2);
}
const results = await run();
process.stdout.write(JSON.stringify({ suite, environment: environment(), results }, null, 2) + "\n");
