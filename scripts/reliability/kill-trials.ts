/**
 * Kill trials: is anything lost, and what is answered twice, when workers are killed (SIGKILL)
 * at random points? For each trial: a fresh FIFO queue gets a batch of mixed cheap requests
 * (pbmc_small under an experiment of its own, unique uuids); a worker is started and killed at
 * a random (seeded) moment, a few times over; then a last worker drains the queue. Checked:
 * every request got at least one response; duplicates are counted and compared (a duplicate is
 * expected when a worker dies after publishing a response but before deleting its message).
 * The report (JSON) records the command, seed, settings, per-trial outcomes and totals.
 *
 *   npm run reliability -- kill-trials [--trials 100] [--seed 1] [--kills 3] [--batch 5] [--out reliability/kill-trials.json]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  commandLine, DATA, ResponseReader, ROOT, seeded, sendAll, spawnServe, startQueueStack, stopServe, workRequest, type QueueStack, type ServeProcess,
} from "./common.ts";

export const KILL_EXPERIMENT = "kill-trials-pbmc-small";

/** Cheap requests on pbmc_small, mixed. */
const BODIES: Record<string, unknown>[] = [
  { name: "ListGenes", selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection: "DESC", offset: 0, limit: 20 },
  { name: "GeneExpression", genes: ["MS4A1", "CD79B", "LYZ"] },
  { name: "GetEmbedding", type: "pca" },
  { name: "GetNGenes" },
  { name: "GetNUmis" },
  { name: "GetMitochondrialContent" },
  { name: "DifferentialExpression", cellSet: "louvain-0", compareWith: "rest", basis: "all" },
];

export interface KillTrialOptions {
  trials: number;
  seed: number;
  /** workers killed per trial before the last one drains the queue */
  kills: number;
  /** requests per trial */
  batch: number;
  /** a kill lands this many ms after the worker was started, uniformly */
  killWindowMs: [number, number];
  visibilityTimeoutS: number;
  /** progress lines (one per trial) */
  progress?: (line: string) => void;
}

export const DEFAULTS: KillTrialOptions = { trials: 100, seed: 1, kills: 3, batch: 5, killWindowMs: [250, 1000], visibilityTimeoutS: 3 };

interface Kill {
  afterMs: number;
  /** what the worker was doing when killed: the last thing it logged */
  phase: string;
  /** tasks it had started / finished (a started but unfinished task was running) */
  tasksStarted: number;
  tasksFinished: number;
}

export interface TrialOutcome {
  trial: number;
  requests: { uuid: string; task: string; responses: number; errors: string[] }[];
  kills: Kill[];
  allAnswered: boolean;
  duplicates: number;
  duplicatesIdentical: boolean;
  /** requests answered with the poison-message error (delivered more than MAX_RECEIVE_COUNT times) */
  poisoned: number;
  ms: number;
}

export interface KillTrialReport {
  command: string;
  generatedAt: string;
  settings: Omit<KillTrialOptions, "progress"> & { experiment: string; data: string; maxReceiveCount: number; receiveWaitS: number };
  totals: {
    trials: number;
    requests: number;
    answered: number;
    unanswered: number;
    trialsWithUnanswered: number;
    duplicates: number;
    requestsWithDuplicates: number;
    nonIdenticalDuplicates: number;
    poisoned: number;
    kills: number;
    /** kills by phase: how many landed while starting, waiting, computing, publishing… */
    killPhases: Record<string, number>;
    killsWithTaskRunning: number;
    seconds: number;
  };
  trials: TrialOutcome[];
}

/** What a worker was doing, from its last log line. */
function phaseOf(w: ServeProcess): string {
  const last = w.logs.at(-1);
  if (!last) return "starting (nothing logged)";
  try {
    const msg = (JSON.parse(last.line) as { message?: string }).message ?? "?";
    if (msg === "task started") return "computing (task started)";
    if (msg === "request") return "after a task (publishing, deleting or receiving)";
    if (msg === "queue found" || msg === "worker started") return "receiving";
    return msg;
  } catch {
    return "unparsed log line";
  }
}

const count = (w: ServeProcess, message: string): number => w.logs.filter((l) => l.line.includes(`"message":"${message}"`)).length;

async function trial(stack: QueueStack, reader: ResponseReader, n: number, opts: KillTrialOptions, random: () => number): Promise<TrialOutcome> {
  const started = Date.now();
  const queue = `kill-${opts.seed}-${n}-${process.pid}.fifo`;
  const url = await stack.createQueue(queue);
  const requests = Array.from({ length: opts.batch }, (_, i) => {
    const body = BODIES[Math.floor(random() * BODIES.length)]!;
    const uuid = `kill-${opts.seed}-${n}-${i}`;
    return { id: uuid, task: body.name as string, json: workRequest(uuid, KILL_EXPERIMENT, body) };
  });
  await sendAll(stack.sqs, url, requests);
  const env = stack.env({ WORK_QUEUE: queue, VISIBILITY_TIMEOUT: String(opts.visibilityTimeoutS), RECEIVE_WAIT_TIME: "1" });
  const kills: Kill[] = [];
  for (let k = 0; k < opts.kills; k++) {
    const [lo, hi] = opts.killWindowMs;
    const afterMs = Math.round(lo + random() * (hi - lo));
    const w = spawnServe(env);
    await new Promise((r) => setTimeout(r, afterMs));
    const phase = phaseOf(w);
    w.proc.kill("SIGKILL");
    await w.exited;
    kills.push({ afterMs, phase, tasksStarted: count(w, "task started"), tasksFinished: count(w, "request") });
  }
  // the last worker drains the queue: every request answered and nothing left in flight
  const last = spawnServe(env);
  const deadline = Date.now() + 60_000 + opts.visibilityTimeoutS * 1000 * opts.kills;
  const uuids = requests.map((r) => r.id);
  for (;;) {
    await reader.untilAnswered(uuids, 2000);
    if (uuids.every((u) => reader.of(u).length > 0) && (await stack.depth(url)) === 0) break;
    if (Date.now() > deadline) break;
  }
  await stopServe(last);
  await reader.drain(1);
  const outcome = requests.map((r) => {
    const rs = reader.of(r.id);
    return { uuid: r.id, task: r.task, responses: rs.length, errors: rs.filter((x) => x.error).map((x) => x.errorCode ?? "?") };
  });
  let identical = true;
  for (const r of requests) {
    const rs = reader.of(r.id);
    if (rs.some((x) => x.body !== rs[0]!.body)) identical = false;
  }
  return {
    trial: n,
    requests: outcome,
    kills,
    allAnswered: outcome.every((o) => o.responses > 0),
    duplicates: outcome.reduce((s, o) => s + Math.max(0, o.responses - 1), 0),
    duplicatesIdentical: identical,
    poisoned: outcome.filter((o) => o.errors.length > 0).length,
    ms: Date.now() - started,
  };
}

export async function runKillTrials(options: Partial<KillTrialOptions>, argv: string[] = []): Promise<KillTrialReport> {
  const opts = { ...DEFAULTS, ...options };
  const t0 = Date.now();
  const stack = await startQueueStack({ experimentId: KILL_EXPERIMENT, dataDir: DATA.pbmcSmall, cacheDir: join(tmpdir(), "cellworker-reliability-cache") });
  const reader = new ResponseReader(stack.sqs, stack.prov.listenerQueueUrl);
  const trials: TrialOutcome[] = [];
  try {
    const random = seeded(opts.seed);
    for (let n = 1; n <= opts.trials; n++) {
      const t = await trial(stack, reader, n, opts, random);
      trials.push(t);
      opts.progress?.(`trial ${n}/${opts.trials}: ${t.allAnswered ? "all answered" : "UNANSWERED"}, ${t.duplicates} duplicate(s)` +
        `${t.duplicatesIdentical ? "" : " NOT IDENTICAL"}${t.poisoned ? `, ${t.poisoned} poisoned` : ""}; kills: ${t.kills.map((k) => `${k.afterMs} ms ${k.phase}`).join("; ")} (${t.ms} ms)`);
    }
  } finally {
    await stack.stop();
  }
  const killPhases: Record<string, number> = {};
  for (const k of trials.flatMap((t) => t.kills)) killPhases[k.phase] = (killPhases[k.phase] ?? 0) + 1;
  const all = trials.flatMap((t) => t.requests);
  return {
    command: commandLine(["kill-trials", ...argv]),
    generatedAt: new Date().toISOString(),
    settings: {
      trials: opts.trials, seed: opts.seed, kills: opts.kills, batch: opts.batch, killWindowMs: opts.killWindowMs, visibilityTimeoutS: opts.visibilityTimeoutS,
      experiment: KILL_EXPERIMENT, data: "data/pbmc_small", maxReceiveCount: 3, receiveWaitS: 1,
    },
    totals: {
      trials: trials.length,
      requests: all.length,
      answered: all.filter((r) => r.responses > 0).length,
      unanswered: all.filter((r) => r.responses === 0).length,
      trialsWithUnanswered: trials.filter((t) => !t.allAnswered).length,
      duplicates: trials.reduce((s, t) => s + t.duplicates, 0),
      requestsWithDuplicates: all.filter((r) => r.responses > 1).length,
      nonIdenticalDuplicates: trials.filter((t) => !t.duplicatesIdentical).length,
      poisoned: trials.reduce((s, t) => s + t.poisoned, 0),
      kills: trials.reduce((s, t) => s + t.kills.length, 0),
      killPhases,
      killsWithTaskRunning: trials.flatMap((t) => t.kills).filter((k) => k.tasksStarted > k.tasksFinished).length,
      seconds: Math.round((Date.now() - t0) / 1000),
    },
    trials,
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      trials: { type: "string", default: String(DEFAULTS.trials) },
      seed: { type: "string", default: String(DEFAULTS.seed) },
      kills: { type: "string", default: String(DEFAULTS.kills) },
      batch: { type: "string", default: String(DEFAULTS.batch) },
      "kill-window-ms": { type: "string", default: DEFAULTS.killWindowMs.join(",") },
      out: { type: "string", default: "reliability/kill-trials.json" },
    },
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const window = values["kill-window-ms"].split(",").map(Number);
  if (window.length !== 2 || !window.every((n) => Number.isInteger(n) && n >= 0) || window[0]! >= window[1]!) {
    throw new Error("--kill-window-ms must be LO,HI: milliseconds after a worker starts, LO < HI");
  }
  const report = await runKillTrials({
    trials: int("trials", values.trials), seed: int("seed", values.seed), kills: int("kills", values.kills), batch: int("batch", values.batch),
    killWindowMs: [window[0]!, window[1]!],
    progress: (line) => process.stderr.write(line + "\n"),
  }, argv);
  const out = resolve(ROOT, values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  const t = report.totals;
  process.stdout.write(`${t.trials} trials, ${t.requests} requests, ${t.kills} kills (${t.killsWithTaskRunning} with a task running): ` +
    `${t.answered} answered, ${t.unanswered} unanswered; ${t.duplicates} duplicate responses (${t.requestsWithDuplicates} requests), ` +
    `${t.nonIdenticalDuplicates} trials with differing duplicates; ${t.poisoned} poisoned; ${t.seconds} s → ${values.out}\n`);
  return t.unanswered === 0 && t.nonIdenticalDuplicates === 0 ? 0 : 1;
}
