/**
 * Marker genes of a cell class's children, shared by MarkerHeatmap and DotPlot (reference
 * spec §5.13). The one-vs-rest Wilcoxon test, the marker filters and ranking, and the seeded
 * down-sampling are numerics/markers.ts; this file turns an experiment's cell class into
 * cell-index groups (`childGroups`), keeps the ranking with the experiment
 * (`cachedRankedMarkers`), names the genes (`uniqueByName`), and runs the kernel on an
 * experiment's log-normalised matrix (`rankMarkers`, `oneVsRestTable`).
 */
import { createHash } from "node:crypto";
import type { Experiment } from "../../experiment/experiment.ts";
import { findNode, isClass } from "../../experiment/cell-sets/cell-sets.ts";
import { invalidInput } from "../../result/errors.ts";
import * as markers from "../../numerics/markers.ts";
import type { OneVsRestTable, RankedMarkers } from "../../numerics/markers.ts";

/** The kernel's full statistics table on the experiment's log-normalised values (for tests and small k). */
export function oneVsRestTable(exp: Experiment, groups: readonly Int32Array[]): OneVsRestTable {
  return markers.oneVsRestTable(exp.data.matrix, exp.normalizer, groups);
}

/** The kernel's ranked markers on the experiment's log-normalised values (no sampling). */
export function rankMarkers(exp: Experiment, groups: readonly Int32Array[], progress?: (fraction: number) => void): RankedMarkers {
  return markers.rankMarkers(exp.data.matrix, exp.normalizer, groups, progress);
}

/** Genes whose symbol (the id when empty) was not seen before, in order, with their names. */
export function uniqueByName(exp: Experiment, genes: readonly number[]): { genes: number[]; names: string[] } {
  const { symbols, ids } = exp.data.genes;
  const seen = new Set<string>();
  const out: { genes: number[]; names: string[] } = { genes: [], names: [] };
  for (const g of genes) {
    const name = symbols[g] || ids[g]!;
    if (seen.has(name)) continue;
    seen.add(name);
    out.genes.push(g);
    out.names.push(name);
  }
  return out;
}

/** A digest of the groups' contents (order of groups and of cells matters), for memo keys. */
export function groupsDigest(groups: readonly Int32Array[]): string {
  const h = createHash("sha256");
  const header = new Int32Array(groups.length + 1);
  header[0] = groups.length;
  groups.forEach((cells, g) => { header[g + 1] = cells.length; });
  h.update(new Uint8Array(header.buffer));
  for (const cells of groups) h.update(new Uint8Array(cells.buffer, cells.byteOffset, cells.byteLength));
  return h.digest("hex");
}

/**
 * The ranked markers of these groups (down-sampled by numerics/markers.ts's `sampleGroups`),
 * computed once per (`scope`, group contents) and kept with the experiment. `scope`
 * separates callers that must not share results.
 */
export function cachedRankedMarkers(
  exp: Experiment,
  scope: string,
  groups: readonly Int32Array[],
  progress?: (fraction: number) => void,
): Promise<RankedMarkers> {
  return exp.memoize(`markers:${scope}:${groupsDigest(groups)}`, async () => rankMarkers(exp, markers.sampleGroups(groups), progress));
}

const quote = (key: string): string => JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key);

/**
 * The children of class `key` as marker groups: cell-index sets (ascending, each cell once,
 * cells in the data, optionally only those passing `keep`), in child order. INVALID_INPUT
 * naming `field` when the key is unknown or names a set rather than a class.
 */
export function childGroups(exp: Experiment, key: string, field: string, keep?: (cellIndex: number) => boolean): Int32Array[] {
  const node = findNode(exp.cellSets, key);
  if (!node) throw invalidInput(`${field}: there is no cell class with key ${quote(key)}.`);
  if (!isClass(node)) throw invalidInput(`${field}: ${quote(key)} is a cell set, not a class of cell sets.`);
  return node.children.map((child) => {
    const out: number[] = [];
    for (const id of child.cellIds) {
      const i = exp.cellIndex(id);
      if (i >= 0 && (!keep || keep(i))) out.push(i);
    }
    const cells = Int32Array.from(out).sort();
    let n = 0;
    for (let j = 0; j < cells.length; j++) if (j === 0 || cells[j] !== cells[j - 1]) cells[n++] = cells[j]!;
    return cells.slice(0, n);
  });
}
