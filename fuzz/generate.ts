/**
 * Request generation for the fuzzer: valid-looking WorkRequests for every task, then seeded
 * mutations with hostile values (wrong types, huge numbers, NaN/Infinity, negative offsets,
 * million-element arrays, deep nesting, odd unicode, prototype keys, path fragments,
 * ReDoS-shaped patterns).
 */
import { Random } from "../src/numerics/random.ts";

type Json = unknown;

const TEMPLATES: Record<string, Record<string, Json>> = {
  GetEmbedding: { type: "pca" },
  ListGenes: { selectFields: ["gene_names", "dispersions"], orderBy: "dispersions", orderDirection: "DESC", offset: 0, limit: 20, geneNamesFilter: "CD" },
  GeneExpression: { genes: ["CST3", "PPBP"], downsampleSettings: { selectedCellSet: "louvain", groupedTracks: ["louvain"] } },
  DifferentialExpression: { cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" },
  ClusterCells: { type: "louvain", config: { resolution: 0.5 }, cellSetKey: "louvain", cellSetName: "Louvain clusters" },
  MarkerHeatmap: { nGenes: 5, selectedCellSet: "louvain" },
  DotPlot: { useMarkerGenes: true, numberOfMarkers: 3, customGenesList: [], groupBy: "louvain", filterBy: "All" },
  GetNUmis: {},
  GetNGenes: {},
  GetMitochondrialContent: {},
  GetDoubletScore: {},
  GetBackgroundExpressedGenes: { cellSet: "louvain-0", compareWith: "rest", basis: "all", comparisonType: "within" },
  BatchDifferentialExpression: { basis: ["all"], cellSet: ["louvain-0", "louvain-1"], compareWith: "background", comparisonType: "within" },
  GetNormalizedExpression: { subsetBy: { louvain: ["louvain-0"] } },
  GetExpressionCellSets: { genesConfig: [{ geneName: "CST3", comparisonType: "greaterThan", thresholdValue: 1 }] },
  Frobnicate: {},
};

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
    body: { name: task, ...TEMPLATES[task] },
    ...(task === "DifferentialExpression" && rng.next() < 0.5
      ? { pagination: { orderBy: "p_val", orderDirection: "ASC", offset: 0, limit: 10, responseKey: 0, filters: [{ columnName: "gene_names", type: "text", expression: "CD" }] } }
      : {}),
  };
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
