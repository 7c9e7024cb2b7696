/**
 * Request generation for the fuzzer: valid-looking WorkRequests for every task, then seeded
 * mutations with hostile values (wrong types, huge numbers, NaN/Infinity, negative offsets,
 * million-element arrays, deep nesting, odd unicode, prototype keys, path fragments,
 * ReDoS-shaped patterns).
 */
import { Random } from "../src/numerics/random.ts";
import { registry } from "../src/tasks/registry.ts";

type Json = unknown;

/** Every registered task's example body (src/tasks/*.ts), and one unknown task. */
const TEMPLATES: Record<string, Json> = {
  ...Object.fromEntries([...registry.values()].map((t) => [t.name, t.example])),
  Frobnicate: { name: "Frobnicate" },
};

/**
 * Whole-request attacks from the hardening report (issue 11), applied instead of a mutation:
 * each is a request the worker must answer (or drop) in bounded time and memory, without
 * leaking a token or writing outside its bucket.
 */
const ATTACKS: [string, (request: Record<string, Json>) => Json][] = [
  ["repeated cell ids", (r) => ({ ...r, body: { name: "GeneExpression", genes: ["CST3"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain"], cellIds: new Array(500_000).fill(0) } } })],
  ["overlapping grouped tracks", (r) => ({ ...r, body: { name: "GeneExpression", genes: ["CST3"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: new Array(40).fill(0).map((_, i) => (i % 2 ? "louvain" : "groups")) } } })],
  ["request over 256 KiB", (r) => ({ ...r, padding: "x".repeat(300_000) })],
  ["traversal ETag", (r) => ({ ...r, ETag: "../../../etc/passwd" })],
  ["tokens under other names", (r) => ({ ...r, access_token: SECRET, id_token: SECRET, jwt: SECRET, sessionToken: SECRET, "x-api-key": SECRET, nested: [{ Authorization: `Bearer ${SECRET}` }] })],
  ["another experiment", (r) => ({ ...r, experimentId: "another-experiment", requestProps: { broadcast: true, cacheUniquenessKey: null } })],
  ["newline in names", (r) => ({ ...r, experimentId: "e\n{\"forged\":1}", body: { name: "Get\nForged" } })],
  ["UMAP minimum distance 10", (r) => ({ ...r, body: { name: "GetEmbedding", type: "umap", config: { minimumDistance: 10 } } })],
  ["cell set key of an existing child", (r) => ({ ...r, body: { name: "ClusterCells", type: "louvain", cellSetKey: "louvain-0", cellSetName: "x" } })],
];

/** A token the fuzzer plants in requests: it must never appear in anything published. */
export const SECRET = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2VjcmV0LXNpZ25hdHVyZQ";

function deep(depth: number): Json {
  let v: Json = "bottom";
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** Hostile values, built lazily (some are large). */
const HOSTILE: (() => Json)[] = [
  () => null, () => true, () => -1, () => 0, () => 1e308, () => -1e308, () => 2 ** 53 + 1, () => NaN, () => Infinity, () => -Infinity,
  () => "", () => "a".repeat(100_000), () => "../../../../etc/passwd", () => "..", () => "/tmp/x", () => "😀\u0000\uffff\u202e",
  () => "(a+)+$", () => "^(a|aa)*$", () => "%%%_%", () => "^$", () => "[", () => "\\", () => [], () => [[[[]]]],
  () => new Array(1_000_000).fill(0), () => new Array(20_000).fill("CST3"), () => deep(20), () => deep(20_000),
  () => JSON.parse('{"__proto__": {"polluted": 1}}'), () => ({ constructor: { prototype: { polluted: 1 } } }), () => ({ toString: 1, valueOf: 2 }),
  () => -0.5, () => 0.5, () => 1e6, () => "DESC", () => "louvain", () => "louvain-0", () => "rest", () => "all", () => "background",
];

function paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (prefix.length >= 8) return out; // mutate near the top; deep values are mutations themselves
  if (Array.isArray(value)) value.slice(0, 5).forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const copy: Record<string | number, Json> = Array.isArray(root) ? [...root] as unknown as Record<number, Json> : { ...(root as Record<string, Json>) };
  Object.defineProperty(copy, head!, { value: setAt((root as Record<string | number, Json>)[head!], rest, value), enumerable: true, writable: true, configurable: true });
  return copy;
}

export interface Generated { request: Json; task: string; mutation: string }

export function generate(rng: Random, experimentId: string): Generated {
  const names = Object.keys(TEMPLATES);
  const task = names[rng.int(names.length)]!;
  const era = rng.next() < 0.5;
  let request: Json = {
    ...(era ? { ETag: `etag-${rng.int(1e9)}`, requestProps: { broadcast: false, cacheUniquenessKey: null } } : { uuid: `uuid-${rng.int(1e9)}`, socketId: "fuzz" }),
    experimentId,
    timeout: "2099-12-31T00:00:00Z",
    Authorization: `Bearer ${SECRET}`,
    body: TEMPLATES[task],
    ...(task === "DifferentialExpression" && rng.next() < 0.5
      ? { pagination: { orderBy: "p_val", orderDirection: "ASC", offset: 0, limit: 10, responseKey: 0, filters: [{ columnName: "gene_names", type: "text", expression: "CD" }] } }
      : {}),
  };
  if (rng.next() < 0.05) {
    const [name, attack] = ATTACKS[rng.int(ATTACKS.length)]!;
    return { request: attack(request as Record<string, Json>), task, mutation: `attack: ${name}` };
  }
  const mutations: string[] = [];
  const count = rng.int(3); // 0, 1 or 2 mutations
  for (let m = 0; m < count; m++) {
    const all = paths(request);
    const path = all[rng.int(all.length)]!;
    const kind = rng.int(3);
    if (kind === 0 || path.length === 0) {
      const h = rng.int(HOSTILE.length);
      request = setAt(request, path, HOSTILE[h]!());
      mutations.push(`${path.join(".") || "<root>"}=hostile#${h}`);
    } else if (kind === 1) {
      request = setAt(request, [...path.slice(0, -1), "__proto__"], { polluted: 1 });
      mutations.push(`${path.slice(0, -1).join(".")}.__proto__`);
    } else {
      const parent = path.slice(0, -1);
      const key = path[path.length - 1]!;
      const holder = parent.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k], request) as Record<string | number, Json>;
      if (holder && typeof holder === "object" && !Array.isArray(holder)) {
        const { [key]: _drop, ...restOf } = holder;
        request = setAt(request, parent, restOf);
        mutations.push(`delete ${path.join(".")}`);
      }
    }
  }
  return { request, task, mutation: mutations.join("; ") || "none" };
}
