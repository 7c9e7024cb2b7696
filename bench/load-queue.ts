/**
 * Queue load test: one `cellworker serve` on pbmc3k behind the emulated SQS/SNS/S3, fed 1,000
 * mixed cheap requests (ListGenes pages, GeneExpression of a few genes, the per-cell metadata
 * GetNGenes / GetNUmis / GetMitochondrialContent) in bursts; responses read from the topic's
 * listener queue. Reported: throughput, latency from send to response (p50/p90/p99/max), the
 * worker's RSS sampled every second (/proc/<pid>/status VmRSS; the compute thread is in the
 * same process), errors and duplicates. Passes when every request is answered once without an
 * error and RSS does not grow during the measured requests: the median of the last 10 % of
 * samples is at most 10 % (and at least 32 MiB) above the median of the first 10 %.
 *
 * The measured requests follow a warm-up of the same kind and pace (2,000 by default): a fresh
 * worker's RSS rises for its first ~1,500 requests of this mix (from ~250 to ~430 MiB, the two
 * V8 heaps sizing up) and is flat after that (5,000 requests: +1 MiB over the last 3,000).
 * The warm-up's RSS and latency are reported too.
 *
 *   node bench/load-queue.ts [--requests 1000] [--warmup 2000] [--burst 50] [--interval-ms 500] [--seed 1] [--out reliability/load-queue.json]
 */
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  DATA, ResponseReader, ROOT, seeded, sendAll, spawnServe, startQueueStack, stopServe, workRequest,
} from "../scripts/reliability/common.ts";

export const LOAD_EXPERIMENT = "load-queue-pbmc3k";

const GENES = ["CST3", "LYZ", "MS4A1", "CD3E", "NKG7", "GNLY", "FCGR3A", "PPBP", "CD8A", "IL7R", "CCR7", "S100A4", "CD14", "FCER1A", "MS4A7", "HLA-DRA", "CD79A"];

/** One cheap request, chosen by `random`. */
function cheapRequest(random: () => number): { task: string; body: Record<string, unknown> } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const r = random();
  if (r < 0.4) {
    return {
      task: "ListGenes",
      body: {
        name: "ListGenes", selectFields: pick([["gene_names", "dispersions"], ["gene_names", "means"], ["gene_names", "gene_ids", "dispersions", "means"]]),
        orderBy: pick(["gene_names", "dispersions", "means"]), orderDirection: pick(["ASC", "DESC"]),
        offset: Math.floor(random() * 2000), limit: pick([10, 20, 50]),
        ...(random() < 0.3 ? { geneNamesFilter: pick(["CD", "^HLA", "S100", "RPL"]) } : {}),
      },
    };
  }
  if (r < 0.75) {
    const n = 1 + Math.floor(random() * 3);
    const genes = [...new Set(Array.from({ length: n }, () => pick(GENES)))];
    return { task: "GeneExpression", body: { name: "GeneExpression", genes } };
  }
  const task = pick(["GetNGenes", "GetNUmis", "GetMitochondrialContent"]);
  return { task, body: { name: task } };
}

export interface LoadOptions {
  requests: number;
  /** requests sent before the measured ones, same mix and pace */
  warmup: number;
  burst: number;
  intervalMs: number;
  seed: number;
  progress?: (line: string) => void;
}

const DEFAULTS: LoadOptions = { requests: 1000, warmup: 2000, burst: 50, intervalMs: 500, seed: 1 };

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

function rssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export async function runLoadQueue(options: Partial<LoadOptions>, argv: string[] = []): Promise<Record<string, unknown> & { pass: boolean }> {
  const opts = { ...DEFAULTS, ...options };
  const random = seeded(opts.seed);
  const say = opts.progress ?? (() => {});
  const stack = await startQueueStack({ experimentId: LOAD_EXPERIMENT, dataDir: DATA.pbmc3k, cacheDir: join(tmpdir(), "cellworker-reliability-cache") });
  const queue = `load-queue-${process.pid}.fifo`;
  const url = await stack.createQueue(queue);
  const reader = new ResponseReader(stack.sqs, stack.prov.listenerQueueUrl);
  const worker = spawnServe(stack.env({ WORK_QUEUE: queue, RECEIVE_WAIT_TIME: "1", VISIBILITY_TIMEOUT: "60" }));
  try {
    // the experiment loaded (from the processed-state cache after the first run), the compute thread started
    const first = [{ id: "first", json: workRequest("first", LOAD_EXPERIMENT, cheapRequest(random).body) }];
    await sendAll(stack.sqs, url, first);
    if (!(await reader.untilAnswered(["first"], 180_000))) throw new Error(`the worker did not answer; last logs:\n${worker.logs.slice(-10).map((l) => l.line).join("\n")}`);
    say(`worker ready; sending ${opts.warmup} warm-up and ${opts.requests} measured requests`);

    const make = (phase: "warm-up" | "measured", i: number): { id: string; task: string; json: string; sentAt: number; phase: string } => {
      const { task, body } = cheapRequest(random);
      const id = `load-${phase}-${opts.seed}-${i}`;
      return { id, task, json: workRequest(id, LOAD_EXPERIMENT, body), sentAt: 0, phase };
    };
    const warmups = Array.from({ length: opts.warmup }, (_, i) => make("warm-up", i));
    const requests = Array.from({ length: opts.requests }, (_, i) => make("measured", i));
    const everything = [...warmups, ...requests];
    const samples: { t: number; rssMiB: number }[] = [];
    const t0 = Date.now();
    const sample = (): void => {
      const kib = rssKiB(worker.pid);
      if (kib !== null) samples.push({ t: Math.round((Date.now() - t0) / 100) / 10, rssMiB: Math.round(kib / 102.4) / 10 });
    };
    sample();
    const sampler = setInterval(sample, 1000);
    let stopReading = false;
    const reading = (async () => { while (!stopReading) await reader.poll(1); })();
    try {
      for (let i = 0; i < everything.length; i += opts.burst) {
        const burst = everything.slice(i, i + opts.burst);
        const at = Date.now();
        for (const r of burst) r.sentAt = at;
        await sendAll(stack.sqs, url, burst);
        const next = t0 + ((i / opts.burst) + 1) * opts.intervalMs;
        if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
      }
      say(`${everything.length} sent in ${Date.now() - t0} ms; waiting for the responses`);
      const deadline = Date.now() + 300_000;
      while (everything.some((r) => reader.of(r.id).length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    } finally {
      stopReading = true;
      await reading;
      clearInterval(sampler);
    }
    sample();
    await reader.drain(1); // late duplicates
    const measuredFrom = (Math.min(...requests.map((r) => r.sentAt)) - t0) / 1000;
    const tEnd = Math.max(...requests.map((r) => reader.of(r.id)[0]?.at ?? 0));
    const latencyOf = (rs: typeof everything): number[] => rs.filter((r) => reader.of(r.id).length > 0).map((r) => reader.of(r.id)[0]!.at - r.sentAt).sort((a, b) => a - b);
    const latencies = latencyOf(requests);
    const warmLatencies = latencyOf(warmups);
    const answered = latencies.length;
    const errors = everything.flatMap((r) => reader.of(r.id).filter((x) => x.error).map((x) => ({ uuid: r.id, task: r.task, errorCode: x.errorCode })));
    const duplicates = everything.reduce((s, r) => s + Math.max(0, reader.of(r.id).length - 1), 0);
    const measuredSamples = samples.filter((s) => s.t >= measuredFrom);
    const tenth = Math.max(1, Math.floor(measuredSamples.length / 10));
    const firstMiB = median(measuredSamples.slice(0, tenth).map((s) => s.rssMiB));
    const lastMiB = median(measuredSamples.slice(-tenth).map((s) => s.rssMiB));
    const allowedMiB = Math.max(32, firstMiB * 0.1);
    const byTask: Record<string, { count: number; p50Ms: number; p99Ms: number }> = {};
    for (const task of [...new Set(requests.map((r) => r.task))].sort()) {
      const ls = requests.filter((r) => r.task === task && reader.of(r.id).length > 0).map((r) => reader.of(r.id)[0]!.at - r.sentAt).sort((a, b) => a - b);
      byTask[task] = { count: requests.filter((r) => r.task === task).length, p50Ms: quantile(ls, 0.5), p99Ms: quantile(ls, 0.99) };
    }
    const workerErrors = worker.logs.filter((l) => /"outcome":"(?!ok")/.test(l.line) || /failed|unexpected|crash/i.test(l.line)).map((l) => l.line).slice(0, 20);
    const failures: string[] = [];
    if (answered < requests.length || warmLatencies.length < warmups.length) {
      failures.push(`${requests.length - answered + warmups.length - warmLatencies.length} requests unanswered`);
    }
    if (errors.length) failures.push(`${errors.length} error responses`);
    if (duplicates) failures.push(`${duplicates} duplicate responses`);
    if (lastMiB - firstMiB > allowedMiB) failures.push(`RSS grew ${(lastMiB - firstMiB).toFixed(1)} MiB (allowed ${allowedMiB.toFixed(1)})`);
    if (worker.proc.exitCode !== null || worker.proc.signalCode !== null) failures.push("the worker exited");
    const seconds = (tEnd - t0) / 1000 - measuredFrom;
    return {
      command: `node bench/load-queue.ts ${argv.join(" ")}`.trimEnd(),
      generatedAt: new Date().toISOString(),
      settings: { requests: opts.requests, warmup: opts.warmup, burst: opts.burst, intervalMs: opts.intervalMs, seed: opts.seed, experiment: LOAD_EXPERIMENT, data: "data/pbmc3k", offeredPerS: Math.round((1000 / opts.intervalMs) * opts.burst) },
      pass: failures.length === 0,
      failures,
      requests: requests.length,
      answered,
      errors: errors.length,
      errorSamples: errors.slice(0, 10),
      duplicates,
      seconds: Math.round(seconds * 10) / 10,
      throughputPerS: Math.round((answered / seconds) * 10) / 10,
      latencyMs: { p50: quantile(latencies, 0.5), p90: quantile(latencies, 0.9), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? null },
      byTask,
      warmUp: {
        requests: warmups.length, answered: warmLatencies.length,
        latencyMs: { p50: quantile(warmLatencies, 0.5), p99: quantile(warmLatencies, 0.99) },
        rssMiB: { atStart: samples[0]?.rssMiB ?? null, atEnd: measuredSamples[0]?.rssMiB ?? null },
      },
      rss: {
        measuredFromS: Math.round(measuredFrom * 10) / 10,
        firstTenthMedianMiB: firstMiB, lastTenthMedianMiB: lastMiB, growthMiB: Math.round((lastMiB - firstMiB) * 10) / 10,
        allowedGrowthMiB: Math.round(allowedMiB * 10) / 10, maxMiB: Math.max(...samples.map((s) => s.rssMiB)),
        /** every second of the run, warm-up included (t in seconds from the first send) */
        samples,
      },
      workerLogProblems: workerErrors,
    };
  } finally {
    await stopServe(worker);
    await stack.stop();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: "string", default: String(DEFAULTS.requests) },
      warmup: { type: "string", default: String(DEFAULTS.warmup) },
      burst: { type: "string", default: String(DEFAULTS.burst) },
      "interval-ms": { type: "string", default: String(DEFAULTS.intervalMs) },
      seed: { type: "string", default: String(DEFAULTS.seed) },
      out: { type: "string", default: "reliability/load-queue.json" },
    },
  });
  const int = (name: string, v: string, min = 1): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const report = await runLoadQueue({
    requests: int("requests", values.requests), warmup: int("warmup", values.warmup, 0), burst: int("burst", values.burst), intervalMs: int("interval-ms", values["interval-ms"]), seed: int("seed", values.seed),
    progress: (line) => process.stderr.write(`load-queue: ${line}\n`),
  }, argv);
  const out = resolve(ROOT, values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  const r = report as unknown as { answered: number; requests: number; errors: number; duplicates: number; throughputPerS: number; latencyMs: { p50: number; p99: number }; rss: { firstTenthMedianMiB: number; lastTenthMedianMiB: number }; failures: string[] };
  process.stdout.write(`${r.answered}/${r.requests} answered, ${r.errors} errors, ${r.duplicates} duplicates; ${r.throughputPerS} req/s; ` +
    `latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms; RSS ${r.rss.firstTenthMedianMiB} → ${r.rss.lastTenthMedianMiB} MiB; ` +
    `${report.pass ? "PASS" : `FAIL: ${r.failures.join("; ")}`} → ${values.out}\n`);
  return report.pass ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
