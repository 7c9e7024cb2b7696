/**
 * The Cellenics cell-set model (reference spec §3.2) and its pure queries (§3.3).
 * A class ("root node") holds child sets; each child holds cell ids.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ErrorCode, WorkerError } from "../../result/errors.ts";

export const CellSetSchema = z.object({
  key: z.string(),
  name: z.string(),
  rootNode: z.literal(false).optional(),
  type: z.enum(["cellSets", "metadataCategorical"]).optional(),
  color: z.string().optional(),
  cellIds: z.array(z.number().int().nonnegative()),
}).loose();

export const CellClassSchema = z.object({
  key: z.string(),
  name: z.string(),
  rootNode: z.literal(true).optional(),
  type: z.enum(["cellSets", "metadataCategorical"]).optional(),
  children: z.array(CellSetSchema),
}).loose();

/** A cell-sets file: `{"cellSets": CellClass[]}` or a bare array. */
export const CellSetsFileSchema = z.union([z.object({ cellSets: z.array(CellClassSchema) }).loose(), z.array(CellClassSchema)]);

export type CellSet = z.infer<typeof CellSetSchema>;
export type CellClass = z.infer<typeof CellClassSchema>;

export function parseCellSetsFile(json: unknown): CellClass[] {
  const parsed = CellSetsFileSchema.parse(json);
  return Array.isArray(parsed) ? parsed : parsed.cellSets;
}

/** Fixed palette for generated sets (Cellenics-like categorical colours). */
export const PALETTE = [
  "#77aadd", "#ee8866", "#eedd88", "#ffaabb", "#99ddff", "#44bb99", "#bbcc33", "#aaaa00",
  "#dddddd", "#e9002d", "#ffaa00", "#00b000", "#8c564b", "#1f77b4", "#9467bd", "#d62728",
  "#2ca02c", "#ff7f0e", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#aec7e8", "#ffbb78",
] as const;

export const colorAt = (i: number): string => PALETTE[i % PALETTE.length]!;

/** A class of clusters as ClusterCells and the default `louvain` class produce it. */
export function clusterClass(opts: { key: string; name: string; type: string; labels: Int32Array; cellIds: Int32Array }): CellClass {
  const byCluster = new Map<number, number[]>();
  opts.labels.forEach((l, i) => {
    let ids = byCluster.get(l);
    if (!ids) byCluster.set(l, (ids = []));
    ids.push(opts.cellIds[i]!);
  });
  const clusters = [...byCluster.keys()].sort((a, b) => a - b);
  return {
    key: opts.key,
    name: opts.name,
    rootNode: true,
    type: "cellSets",
    children: clusters.map((c, i) => ({
      key: `${opts.type}-${c}`,
      name: `Cluster ${c}`,
      rootNode: false,
      type: "cellSets",
      color: colorAt(i),
      cellIds: byCluster.get(c)!.sort((a, b) => a - b),
    })),
  };
}

/** A metadataCategorical class from a categorical column (`sample` keeps level names as keys). */
export function metadataClass(opts: { key: string; name: string; categories: string[]; codes: Int32Array; cellIds: Int32Array }): CellClass {
  const members = opts.categories.map(() => [] as number[]);
  opts.codes.forEach((code, i) => { if (code >= 0) members[code]!.push(opts.cellIds[i]!); });
  return {
    key: opts.key,
    name: opts.name,
    rootNode: true,
    type: "metadataCategorical",
    children: opts.categories
      .map((level, i) => ({
        key: opts.key === "sample" ? level : `${opts.key}-${level}`,
        name: level,
        color: colorAt(i),
        cellIds: members[i]!.sort((a, b) => a - b),
      }))
      .filter((s) => s.cellIds.length > 0),
  };
}

export const emptyScratchpad = (): CellClass => ({ key: "scratchpad", name: "Custom cell sets", rootNode: true, type: "cellSets", children: [] });

/** Replaces the class with the same key, or inserts it first (ClusterCells semantics). */
export function withClassFirst(sets: CellClass[], cls: CellClass): CellClass[] {
  return [cls, ...sets.filter((c) => c.key !== cls.key)];
}

/** Appends a set to the `scratchpad` class, which is created (last) when missing (GetExpressionCellSets semantics). */
export function withScratchpadSet(sets: CellClass[], set: CellSet): CellClass[] {
  const scratchpad = sets.find((c) => c.key === "scratchpad");
  return scratchpad
    ? sets.map((c) => (c === scratchpad ? { ...c, children: [...c.children, set] } : c))
    : [...sets, { ...emptyScratchpad(), children: [set] }];
}

/** The node (class or set) with this key, depth-first. */
export function findNode(sets: CellClass[], key: string): CellClass | CellSet | undefined {
  for (const cls of sets) {
    if (cls.key === key) return cls;
    const child = cls.children.find((c) => c.key === key);
    if (child) return child;
  }
  return undefined;
}

export function isClass(node: CellClass | CellSet): node is CellClass {
  return Array.isArray((node as CellClass).children);
}

/** Cell ids of a set, or the union of a class's children; undefined when the key is unknown. */
export function cellIdsOf(sets: CellClass[], key: string): Set<number> | undefined {
  const node = findNode(sets, key);
  if (!node) return undefined;
  if (isClass(node)) return unionOf(node.children);
  return new Set(node.cellIds);
}

export function unionOf(nodes: readonly { cellIds: number[] }[]): Set<number> {
  const out = new Set<number>();
  for (const n of nodes) for (const id of n.cellIds) out.add(id);
  return out;
}

/** Cells of every other node on the same level as `key` (spec §3.3: "rest"). */
export function sameHierarchyRest(sets: CellClass[], key: string): Set<number> {
  const cls = sets.find((c) => c.children.some((s) => s.key === key));
  if (cls) return unionOf(cls.children.filter((s) => s.key !== key));
  if (sets.some((c) => c.key === key)) return unionOf(sets.filter((c) => c.key !== key).flatMap((c) => c.children));
  return new Set();
}

/** Union of every leaf of every class (spec §3.3: "background"/"all"). */
export function allCellIds(sets: CellClass[]): Set<number> {
  return unionOf(sets.flatMap((c) => c.children));
}

/** A Cellenics cell-sets JSON file, checked; one-line DATA_NOT_FOUND / DATA_INVALID naming the file. */
export async function readCellSetsFile(file: string): Promise<CellClass[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `${file}: cannot read cell sets (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WorkerError(ErrorCode.DATA_INVALID, `${file}: cell sets are not valid JSON`);
  }
  try {
    return parseCellSetsFile(json);
  } catch (err) {
    const issue = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.[0];
    const where = issue ? ` at ${issue.path.map(String).join(".") || "top level"}: ${issue.message}` : "";
    throw new WorkerError(ErrorCode.DATA_INVALID, `${file}: not a Cellenics cell-sets file${where}`);
  }
}
