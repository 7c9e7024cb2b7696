/**
 * `npm run fuzz [-- --budget N --seed S --bound-ms MS]`: generated and mutated WorkRequests
 * through the full request path (envelope → task → response) on the bundled pbmc_small
 * experiment. Properties: every request gets a WorkResponse within the bound, nothing throws
 * out of the pipeline, no prototype pollution, memory stays bounded, and no file is written
 * outside the cache directory. Prints a JSON report; exits 1 if a property failed.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { openExperiment } from "../src/experiment/open.ts";
import { handleRequest } from "../src/pipeline.ts";
import { Random } from "../src/numerics/random.ts";
import { generate } from "./generate.ts";

export interface FuzzReport {
  seed: number;
  tried: number;
  outcomes: Record<string, number>;
  maxLatencyMs: number;
  slowest: { task: string; mutation: string; ms: number } | null;
  heapGrowthMiB: number;
  rssMiB: number;
  failures: { kind: string; task: string; mutation: string; detail: string }[];
}

const root = resolve(import.meta.dirname, "..");

function snapshot(dir: string, skip: Set<string>): Set<string> {
  const out = new Set<string>();
  const walk = (d: string, depth: number): void => {
    if (depth > 3) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (skip.has(p)) continue;
      out.add(p);
      if (e.isDirectory()) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

export async function runFuzz(opts: { budget: number; seed: number; boundMs: number }): Promise<FuzzReport> {
  // a private temp folder: anything written to it other than the cache is a finding
  const sandbox = mkdtempSync(join(tmpdir(), "cellworker-fuzz-"));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = sandbox;
  const cacheDir = join(sandbox, "cache");
  // outputs of other commands that may run at the same time (benchmarks, the demo)
  const skip = new Set(["node_modules", ".git", "out", ".cellworker-cache", "bench/data", "bench/results"].map((p) => join(root, p)));
  const before = snapshot(root, skip);
  const experiment = await openExperiment({ path: join(root, "data", "pbmc_small"), cacheDir });
  const rng = new Random(opts.seed);
  const report: FuzzReport = { seed: opts.seed, tried: 0, outcomes: {}, maxLatencyMs: 0, slowest: null, heapGrowthMiB: 0, rssMiB: 0, failures: [] };
  collectGarbage();
  const heapStart = process.memoryUsage().heapUsed;
  try {
    for (let i = 0; i < opts.budget; i++) {
      const { request, task, mutation } = generate(rng, "fuzz-experiment");
      const started = performance.now();
      let outcome: string;
      try {
        const response = await handleRequest(request, async () => experiment);
        outcome = response.response.error ? (response.response.errorCode ?? "ERROR?") : "ok";
        JSON.stringify(response); // must be publishable
      } catch (err) {
        outcome = "THREW";
        report.failures.push({ kind: "threw", task, mutation, detail: String((err as Error)?.message ?? err).slice(0, 200) });
      }
      const ms = performance.now() - started;
      report.tried++;
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
      if (ms > report.maxLatencyMs) { report.maxLatencyMs = Math.round(ms); report.slowest = { task, mutation, ms: Math.round(ms) }; }
      if (ms > opts.boundMs) report.failures.push({ kind: "slow", task, mutation, detail: `${Math.round(ms)} ms` });
      if (({} as Record<string, unknown>).polluted !== undefined || (Object.prototype as Record<string, unknown>).polluted !== undefined) {
        report.failures.push({ kind: "prototype pollution", task, mutation, detail: "Object.prototype.polluted is set" });
        delete (Object.prototype as Record<string, unknown>).polluted;
      }
      if (outcome === "WORKER_ERROR") report.failures.push({ kind: "unexpected error", task, mutation, detail: "WORKER_ERROR (an uncaught exception inside a task)" });
    }
  } finally {
    collectGarbage();
    report.heapGrowthMiB = Math.round((process.memoryUsage().heapUsed - heapStart) / 2 ** 20 * 10) / 10;
    report.rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
    const after = snapshot(root, skip);
    for (const p of after) if (!before.has(p)) report.failures.push({ kind: "file written", task: "-", mutation: "-", detail: p });
    for (const name of readdirSync(sandbox)) {
      if (name !== "cache") report.failures.push({ kind: "temp file written", task: "-", mutation: "-", detail: name });
    }
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    rmSync(sandbox, { recursive: true, force: true });
  }
  if (report.heapGrowthMiB > 200) report.failures.push({ kind: "memory", task: "-", mutation: "-", detail: `heap grew ${report.heapGrowthMiB} MiB` });
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { budget: { type: "string" }, seed: { type: "string" }, "bound-ms": { type: "string" } } });
  const report = await runFuzz({ budget: Number(values.budget ?? 2000), seed: Number(values.seed ?? 1), boundMs: Number(values["bound-ms"] ?? 10_000) });
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  process.exitCode = report.failures.length === 0 ? 0 : 1;
}
