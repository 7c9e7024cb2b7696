/**
 * Speed of ClusterCells' computation, in parts: the SNN graph build and Louvain on the built
 * graph (the same starts and seed as clusterFromNeighbors), and the two together as the bench's
 * ClusterCells step times them (`clusterCells(nn, "louvain", 0.8)`). Prints one JSON line with
 * medians and a SHA-256 of every membership (Louvain at resolutions 0.3, 0.8, 1.5 and Leiden at
 * 0.8) and of the graph, so a change to the code can be shown to leave the labels bit-identical.
 *
 *   node bench/cluster-speed.ts <input> [cacheDir] [runs] [--compare <dir>]
 *
 * `--compare <dir>`: a folder holding another version's louvain.ts and snn.ts (with random.ts
 * beside them); both versions are then timed alternately in this process and their graphs and
 * memberships compared. Pin to one CPU for timings: `taskset -c 0 node bench/cluster-speed.ts …`.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { openExperiment } from "../src/experiment/open.ts";
import { clusteringNeighborsOf } from "../src/tasks/cluster-cells.ts";
import { clusterCells, CLUSTER_DEFAULTS } from "../src/numerics/cluster.ts";
import { louvain } from "../src/numerics/louvain.ts";
import { buildSnnGraph, type WeightedGraph } from "../src/numerics/snn.ts";
import type { Neighbors } from "../src/numerics/scran.ts";

const args = process.argv.slice(2);
const compareAt = args.indexOf("--compare");
const compareDir = compareAt >= 0 ? args[compareAt + 1] : undefined;
const positional = compareAt >= 0 ? [...args.slice(0, compareAt), ...args.slice(compareAt + 2)] : args;
const [input, cacheDirArg, runsArg] = positional;
if (!input) {
  process.stderr.write("usage: cluster-speed.ts <input> [cacheDir] [runs] [--compare <dir>]\n");
  process.exit(2);
}
const cacheDir = cacheDirArg ?? "/tmp/cellworker-cluster-speed-cache";
const runs = Math.max(5, Number(runsArg ?? 7));

type Snn = (nn: Neighbors, k: number, prune?: number) => WeightedGraph;
type Louvain = (g: WeightedGraph, o: { resolution: number; seed?: number; starts?: number }) => { membership: Int32Array; modularity: number };
interface Impl { name: string; snn: Snn; louvain: Louvain }
const impls: Impl[] = [{ name: "current", snn: buildSnnGraph, louvain }];
if (compareDir) {
  const url = (f: string): string => pathToFileURL(resolve(compareDir, f)).href;
  const other = { snn: (await import(url("snn.ts"))).buildSnnGraph as Snn, louvain: (await import(url("louvain.ts"))).louvain as Louvain };
  impls.unshift({ name: "compare", ...other });
}

const hash = (...arrays: ArrayBufferView[]): string => {
  const h = createHash("sha256");
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest("hex").slice(0, 16);
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const round1 = (x: number): number => Math.round(x * 10) / 10;
/** wall and CPU milliseconds of fn (CPU time: this process, all threads; on a shared machine it
 * is the steadier measure of the work, wall time the one a client sees) */
const timeOf = (fn: () => unknown): [number, number] => {
  const c = process.cpuUsage();
  const t = performance.now();
  fn();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return [wall, (cpu.user + cpu.system) / 1000];
};

const exp = await openExperiment({ path: input, cacheDir });
const nn = await clusteringNeighborsOf(exp);
const k = nn.k + 1;
const starts = nn.nCells > 10_000 ? 3 : 10;
const run = (impl: Impl, g: WeightedGraph, resolution: number): Int32Array =>
  impl.louvain(g, { resolution, seed: CLUSTER_DEFAULTS.seed, starts }).membership;

// correctness first: graphs and memberships of every implementation
const graphs = impls.map((impl) => impl.snn(nn, k, CLUSTER_DEFAULTS.prune));
const hashes: Record<string, Record<string, string>> = {};
impls.forEach((impl, i) => {
  const g = graphs[i]!;
  const h: Record<string, string> = { graph: hash(g.offsets, g.targets, g.weights) };
  for (const r of [0.3, 0.8, 1.5]) h[`louvain${r}`] = hash(run(impl, g, r));
  hashes[impl.name] = h;
});
// the task-level path (this checkout's code only), and Leiden, which this work leaves alone
const task: Record<string, string> = {};
for (const r of [0.3, 0.8, 1.5]) task[`louvain${r}`] = hash(await clusterCells(nn, "louvain", r));
task["leiden0.8"] = hash(await clusterCells(nn, "leiden", 0.8));
const same = impls.length === 1 || JSON.stringify(hashes.compare) === JSON.stringify(hashes.current);

// timings: one warm-up of each, then `runs` rounds alternating the implementations
type Pair = [number, number];
const samples = impls.map(() => ({ snn: [] as Pair[], louvain: [] as Pair[], both: [] as Pair[] }));
for (let round = -1; round < runs; round++) {
  impls.forEach((impl, i) => {
    const s = samples[i]!;
    const snnMs = timeOf(() => impl.snn(nn, k, CLUSTER_DEFAULTS.prune));
    const louvainMs = timeOf(() => run(impl, graphs[i]!, 0.8));
    const bothMs = timeOf(() => run(impl, impl.snn(nn, k, CLUSTER_DEFAULTS.prune), 0.8));
    if (round >= 0) { s.snn.push(snnMs); s.louvain.push(louvainMs); s.both.push(bothMs); }
  });
}
// the bench step exactly as bench/run-dataset.ts times it
const step: number[] = [];
await clusterCells(nn, "louvain", 0.8);
for (let r = 0; r < runs; r++) { const t = performance.now(); await clusterCells(nn, "louvain", 0.8); step.push(performance.now() - t); }

const medians = (xs: Pair[]): { wallMs: number; cpuMs: number } => ({ wallMs: round1(median(xs.map((x) => x[0]))), cpuMs: round1(median(xs.map((x) => x[1]))) });
const timings = Object.fromEntries(impls.map((impl, i) => [impl.name, {
  snnGraph: medians(samples[i]!.snn),
  louvainOnGraph: medians(samples[i]!.louvain),
  graphPlusLouvain: medians(samples[i]!.both),
}]));
process.stdout.write(JSON.stringify({
  input, cells: nn.nCells, k, starts, edges: graphs.at(-1)!.targets.length, runs, cache: exp.cache.status,
  timings, clusterCellsStepMs: round1(median(step)), hashes, taskHashes: task, identical: same,
}) + "\n");
process.exit(same ? 0 : 1);
