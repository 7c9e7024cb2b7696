/**
 * `npm run bench -- make-data --cells N [--seed S] [--thin P] [--source DIR] [--out DIR] [--h5 auto|yes|no]`:
 * a realistic large experiment made of real cells. Each new cell is a real cell drawn at random
 * (with replacement) from the source dataset, its counts binomially thinned (every UMI kept with
 * probability P, default 0.8), so the new cells keep real expression profiles and sample labels
 * while no two are identical (almost surely: thinning thousands of UMIs twice the same way is
 * vanishingly unlikely). Written twice, as a Cell Ranger v3 HDF5 file
 * (`filtered_feature_bc_matrix.h5`) and as a 10x Matrix Market folder (`mtx/`, with an `annotations.csv` holding each cell's sample and source barcode). Same seed, same Matrix Market
 * bytes and the same HDF5 contents (the .h5 bytes differ only in HDF5 object timestamps).
 *
 * The .h5 is written through h5wasm, which holds a whole dataset in its WebAssembly memory
 * (4 GiB at most): `--h5 auto` (the default) skips it above 2^28 non-zeros (about 300,000 such
 * cells), where the int64 `indices` alone would need 2 GiB there; the Matrix Market folder is
 * streamed and has no such limit.
 *
 * Default source: ../shared/data/pbmc_stacked_12k_multisample, else the bundled pbmc3k.
 * Default output: bench/data/resampled_<N>.
 */
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { createGzip } from "node:zlib";
import h5wasm from "h5wasm/node";
import { loadTenxMtx } from "../src/experiment/load/tenx-mtx.ts";
import { Random } from "../src/numerics/random.ts";

const root = resolve(import.meta.dirname, "..");

export interface MakeDataOptions {
  cells: number;
  seed: number;
  thin: number;
  source: string;
  out: string;
  h5: "auto" | "yes" | "no";
}

/** Above this many non-zeros `--h5 auto` writes no .h5 (see the header). */
const H5_MAX_NON_ZEROS = 2 ** 28;

export function defaultSource(): string {
  const stacked = resolve(root, "..", "shared", "data", "pbmc_stacked_12k_multisample");
  return existsSync(stacked) ? stacked : join(root, "data", "pbmc3k");
}

export function parseMakeDataArgs(args: string[]): MakeDataOptions {
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const cells = Number(opt("cells") ?? NaN);
  if (!Number.isInteger(cells) || cells < 1) throw new Error("make-data needs --cells N (a positive integer)");
  const thin = Number(opt("thin") ?? 0.8);
  if (!(thin > 0 && thin <= 1)) throw new Error("--thin must be in (0, 1]");
  const h5 = opt("h5") ?? "auto";
  if (h5 !== "auto" && h5 !== "yes" && h5 !== "no") throw new Error("--h5 must be auto, yes or no");
  return {
    cells,
    seed: Number(opt("seed") ?? 1),
    thin,
    source: resolve(opt("source") ?? defaultSource()),
    out: resolve(opt("out") ?? join(root, "bench", "data", `resampled_${cells}`)),
    h5,
  };
}

/** Cell-major (CSC, genes x cells) counts of the new experiment. */
interface CellMajor {
  nGenes: number;
  nCells: number;
  indptr: Float64Array;
  genes: Int32Array;
  counts: Int32Array;
}

export async function makeData(o: MakeDataOptions, log: (m: string) => void = () => {}): Promise<Record<string, unknown>> {
  const started = performance.now();
  const src = await loadTenxMtx(o.source);
  const m = src.matrix;
  log(`source ${o.source}: ${m.nCells} cells x ${m.nGenes} genes`);
  // source transposed to cell-major so each drawn cell's counts are one contiguous slice
  const srcPtr = new Float64Array(m.nCells + 1);
  for (let p = 0; p < m.indices.length; p++) srcPtr[m.indices[p]! + 1]! += 1;
  for (let c = 0; c < m.nCells; c++) srcPtr[c + 1]! += srcPtr[c]!;
  const fill = srcPtr.slice(0, m.nCells);
  const srcGenes = new Int32Array(m.indices.length);
  const srcCounts = new Int32Array(m.indices.length);
  for (let g = 0; g < m.nGenes; g++) {
    for (let p = m.indptr[g]!; p < m.indptr[g + 1]!; p++) {
      const q = fill[m.indices[p]!]!++;
      srcGenes[q] = g;
      srcCounts[q] = m.values[p]!;
    }
  }
  const rng = new Random(o.seed);
  const drawn = new Int32Array(o.cells);
  for (let j = 0; j < o.cells; j++) drawn[j] = rng.int(m.nCells);
  // upper bound on the non-zeros, then thin in place
  let bound = 0;
  for (const s of drawn) bound += srcPtr[s + 1]! - srcPtr[s]!;
  const genes = new Int32Array(bound);
  const counts = new Int32Array(bound);
  const indptr = new Float64Array(o.cells + 1);
  let w = 0;
  for (let j = 0; j < o.cells; j++) {
    const s = drawn[j]!;
    for (let p = srcPtr[s]!; p < srcPtr[s + 1]!; p++) {
      const c = srcCounts[p]!;
      let k = 0;
      for (let u = 0; u < c; u++) if (rng.next() < o.thin) k++;
      if (k > 0) { genes[w] = srcGenes[p]!; counts[w] = k; w++; }
    }
    indptr[j + 1] = w;
  }
  const cm: CellMajor = { nGenes: m.nGenes, nCells: o.cells, indptr, genes: genes.subarray(0, w), counts: counts.subarray(0, w) };
  log(`resampled ${o.cells} cells: ${w} non-zeros (${(w / o.cells).toFixed(0)} per cell)`);

  const sample = src.obs.find((c) => c.name === "sample");
  const sampleOf = (s: number): string =>
    sample?.kind === "categorical" ? (sample.categories[sample.codes[s]!] ?? "") : sample?.kind === "string" ? sample.values[s]! : "";
  const barcodes = Array.from(drawn, (s, j) => `${src.barcodes[s]}-r${j}`);

  rmSync(o.out, { recursive: true, force: true });
  mkdirSync(join(o.out, "mtx"), { recursive: true });
  const t1 = performance.now();
  await writeMtxFolder(join(o.out, "mtx"), cm, src.genes, barcodes);
  writeFileSync(
    join(o.out, "mtx", "annotations.csv"),
    "barcode,sample,source_barcode\n" + barcodes.map((b, j) => `${b},${sampleOf(drawn[j]!)},${src.barcodes[drawn[j]!]}`).join("\n") + "\n",
  );
  log(`wrote ${join(o.out, "mtx")} in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  const withH5 = o.h5 === "yes" || (o.h5 === "auto" && w <= H5_MAX_NON_ZEROS);
  if (withH5) {
    const t2 = performance.now();
    await writeTenxH5(join(o.out, "filtered_feature_bc_matrix.h5"), cm, src.genes, barcodes);
    log(`wrote ${join(o.out, "filtered_feature_bc_matrix.h5")} in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
  } else {
    log(`no .h5: ${w} non-zeros is above what h5wasm can hold in memory to write one (--h5 auto)`);
  }
  const info = {
    source: o.source, cells: o.cells, genes: m.nGenes, nonZeros: w, seed: o.seed, thin: o.thin,
    samples: sample ? Object.fromEntries(countBy(Array.from(drawn, sampleOf))) : null,
    files: { ...(withH5 ? { h5: "filtered_feature_bc_matrix.h5" } : {}), mtx: "mtx/" },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  writeFileSync(join(o.out, "MADE.json"), JSON.stringify(info, null, 2) + "\n");
  return { out: o.out, ...info };
}

function countBy(xs: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const x of xs) out.set(x, (out.get(x) ?? 0) + 1);
  return new Map([...out].sort());
}

/** matrix.mtx.gz (genes x cells, cell by cell), features.tsv.gz, barcodes.tsv.gz. */
async function writeMtxFolder(dir: string, cm: CellMajor, genes: { ids: string[]; symbols: string[] }, barcodes: string[]): Promise<void> {
  await writeGzText(join(dir, "features.tsv.gz"), genes.ids.map((id, g) => `${id}\t${genes.symbols[g]}\tGene Expression\n`).join(""));
  await writeGzText(join(dir, "barcodes.tsv.gz"), barcodes.join("\n") + "\n");
  const gz = createGzip({ level: 1 });
  const done = (async () => { const out = createWriteStream(join(dir, "matrix.mtx.gz")); gz.pipe(out); await once(out, "close"); })();
  gz.write(`%%MatrixMarket matrix coordinate integer general\n%metadata_json: {"software_version": "cellworker bench make-data"}\n${cm.nGenes} ${cm.nCells} ${cm.genes.length}\n`);
  // ASCII digits written straight into 4 MiB buffers (no per-line strings)
  const SIZE = 4 << 20;
  let buf = Buffer.allocUnsafe(SIZE);
  let pos = 0;
  const digits = new Uint8Array(12);
  const putInt = (v: number): void => {
    let n = 0;
    do { digits[n++] = 48 + (v % 10); v = Math.floor(v / 10); } while (v > 0);
    while (n > 0) buf[pos++] = digits[--n]!;
  };
  for (let c = 0; c < cm.nCells; c++) {
    for (let p = cm.indptr[c]!; p < cm.indptr[c + 1]!; p++) {
      if (pos > SIZE - 40) {
        if (!gz.write(buf.subarray(0, pos))) await once(gz, "drain");
        buf = Buffer.allocUnsafe(SIZE);
        pos = 0;
      }
      putInt(cm.genes[p]! + 1); buf[pos++] = 32;
      putInt(c + 1); buf[pos++] = 32;
      putInt(cm.counts[p]!); buf[pos++] = 10;
    }
  }
  gz.end(buf.subarray(0, pos));
  await done;
}

async function writeGzText(path: string, text: string): Promise<void> {
  const gz = createGzip();
  const out = createWriteStream(path);
  gz.pipe(out);
  gz.end(text);
  await once(out, "close");
}

/** Cell Ranger v3 layout; indices and indptr are int64 as Cell Ranger writes them. */
async function writeTenxH5(path: string, cm: CellMajor, genes: { ids: string[]; symbols: string[] }, barcodes: string[]): Promise<void> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, "w");
  try {
    f.create_attribute("filetype", "matrix");
    f.create_attribute("version", 2);
    const g = f.create_group("matrix");
    const chunk = (n: number): number[] => [Math.max(1, Math.min(n, 1 << 18))];
    const gz = { compression: "gzip" as const, compression_opts: 4 };
    g.create_dataset({ name: "barcodes", data: barcodes });
    g.create_dataset({ name: "data", data: cm.counts, chunks: chunk(cm.counts.length), ...gz });
    g.create_dataset({ name: "indices", data: BigInt64Array.from(cm.genes, (x) => BigInt(x)), chunks: chunk(cm.genes.length), ...gz });
    g.create_dataset({ name: "indptr", data: BigInt64Array.from(cm.indptr, (x) => BigInt(x)), chunks: chunk(cm.indptr.length), ...gz });
    g.create_dataset({ name: "shape", data: new Int32Array([cm.nGenes, cm.nCells]) });
    const feat = g.create_group("features");
    feat.create_dataset({ name: "id", data: genes.ids });
    feat.create_dataset({ name: "name", data: genes.symbols });
    feat.create_dataset({ name: "feature_type", data: genes.ids.map(() => "Gene Expression") });
    feat.create_dataset({ name: "genome", data: genes.ids.map(() => "GRCh38") });
    feat.create_dataset({ name: "_all_tag_keys", data: ["genome"] });
  } finally {
    f.close();
  }
}
