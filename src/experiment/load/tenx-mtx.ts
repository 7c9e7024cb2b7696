/**
 * 10x Matrix Market folder: `matrix.mtx[.gz]` (genes x cells, 1-based coordinates),
 * `features.tsv[.gz]` or `genes.tsv[.gz]`, `barcodes.tsv[.gz]`, and optionally an
 * `annotations.csv` whose first column is the barcode (as the bundled datasets have).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { dataInvalid, WorkerError, ErrorCode } from "../../result/errors.ts";
import { geneMajorFromTriplets } from "../../numerics/sparse.ts";
import type { LoadedData, ObsColumn } from "../types.ts";
import { formatBytes, lineTooLong, MAX_LINE_BYTES, readChunks, readFailure, readLines, splitCsvLine, TEXT_LIMITS } from "./text.ts";
import { typeColumn } from "./obs-table.ts";
import { isStorable } from "./values.ts";

/** The first of `names` (each tried plain and gzipped) that exists in `dir`. */
function findFile(dir: string, names: string[]): string | null {
  for (const name of names) {
    for (const candidate of [`${name}.gz`, name]) {
      const p = join(dir, candidate);
      if (existsSync(p)) return p;
    }
  }
  return null;
}

export function isTenxMtxFolder(dir: string): boolean {
  return findFile(dir, ["matrix.mtx"]) !== null;
}

export async function loadTenxMtx(dir: string): Promise<LoadedData> {
  const matrixPath = findFile(dir, ["matrix.mtx"]);
  const featuresPath = findFile(dir, ["features.tsv", "genes.tsv"]);
  const barcodesPath = findFile(dir, ["barcodes.tsv"]);
  const missing = [!matrixPath && "matrix.mtx[.gz]", !featuresPath && "features.tsv[.gz] or genes.tsv[.gz]", !barcodesPath && "barcodes.tsv[.gz]"].filter(Boolean);
  if (missing.length > 0 || !matrixPath || !featuresPath || !barcodesPath) {
    throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `${dir}: 10x folder is missing ${missing.join(", ")}`);
  }
  // the size line first: barcodes and features can have no more lines than the matrix has columns and rows
  const declared = await readMatrixMarket(matrixPath, { sizeOnly: true });
  const [mtx, featureLines, barcodes] = await Promise.all([
    readMatrixMarket(matrixPath),
    readLines(featuresPath, { ...TEXT_LIMITS.features, maxLines: declared.nRows, maxLinesReason: `${matrixPath} has ${declared.nRows} rows` }),
    readLines(barcodesPath, { ...TEXT_LIMITS.barcodes, maxLines: declared.nCols, maxLinesReason: `${matrixPath} has ${declared.nCols} columns` }),
  ]);
  if (featureLines.length !== mtx.nRows) {
    throw dataInvalid(`${featuresPath}: has ${featureLines.length} genes but ${matrixPath} has ${mtx.nRows} rows`);
  }
  if (barcodes.length !== mtx.nCols) {
    throw dataInvalid(`${barcodesPath}: has ${barcodes.length} barcodes but ${matrixPath} has ${mtx.nCols} columns`);
  }
  const ids: string[] = [];
  const symbols: string[] = [];
  for (const line of featureLines) {
    const parts = line.split("\t");
    ids.push(parts[0]!);
    symbols.push(parts[1] ?? parts[0]!);
  }
  if (!mtx.integer) {
    throw dataInvalid(`${matrixPath}: holds non-integer values (${mtx.firstNonInteger}); a 10x matrix must hold raw UMI counts`);
  }
  const matrix = geneMajorFromTriplets(mtx.nRows, mtx.nCols, mtx.rows, mtx.cols, mtx.values);
  const annotationsPath = join(dir, "annotations.csv");
  const obs = existsSync(annotationsPath) ? await readAnnotations(annotationsPath, barcodes) : [];
  return {
    format: "10x-mtx",
    path: dir,
    matrix,
    matrixKind: "counts",
    matrixSource: matrixPath.slice(dir.length).replace(/^\/+/, ""),
    genes: { ids, symbols },
    barcodes,
    cellIds: Int32Array.from({ length: mtx.nCols }, (_, i) => i),
    obs,
    embeddings: {},
    notes: [],
  };
}

interface Triplets {
  nRows: number;
  nCols: number;
  rows: Int32Array;
  cols: Int32Array;
  values: Float32Array;
  integer: boolean;
  /** "entry 5 (1, 2) is 1.5" when not integer */
  firstNonInteger: string;
}

/** Most text before the size line (the header and comments). */
export const MTX_MAX_HEADER_BYTES = 16 * 1024 * 1024;
/**
 * Most text per entry the size line declares: an entry is "row col value" (`33538 737280 12`
 * is 16 bytes, scipy's `1 1 1.000000000000000000e+00` 28), so 128 bytes leaves room for any
 * padding while a file that unpacks to far more text than its entries is stopped early.
 */
export const MTX_MAX_BYTES_PER_ENTRY = 128;

/**
 * Streaming Matrix Market coordinate reader: parses bytes directly into typed arrays
 * (no per-line strings), so a 100k-cell matrix never exists as one string. The arrays grow with
 * the entries read (not to what the size line claims up front), and the text read is capped:
 * MTX_MAX_HEADER_BYTES before the size line, MTX_MAX_BYTES_PER_ENTRY per declared entry after
 * it, lines of at most MAX_LINE_BYTES.
 */
export async function readMatrixMarket(path: string, opts: { sizeOnly?: boolean } = {}): Promise<Triplets> {
  let header: string | null = null;
  let size: number[] | null = null;
  let rows = new Int32Array(0);
  let cols = new Int32Array(0);
  let values = new Float32Array(0);
  let n = 0;
  let integer = true;
  let firstNonInteger = "";
  let pattern = false;
  let line: number[] = []; // bytes of a partial line (header/size section only)
  let lineNo = 1; // 1-based number of the line being read
  let lineBytes = 0; // bytes of the current entry line so far
  let total = 0; // bytes read so far (unpacked)
  let headerBytes = 0; // bytes up to and including the size line
  let declared = 0; // entries the size line declares
  // numeric state for entry lines
  const field = [0, 0, 0];
  let fieldIdx = 0;
  let num = 0, frac = 0, fracDiv = 1, inNum = false, inFrac = false, neg = false, expMode = false, expNeg = false, expVal = 0;
  const flushField = (): void => {
    if (!inNum) return;
    let v = num + (inFrac ? frac / fracDiv : 0);
    if (expMode) v *= Math.pow(10, expNeg ? -expVal : expVal);
    if (fieldIdx < field.length) field[fieldIdx] = neg ? -v : v; // extra fields are ignored
    fieldIdx++;
    num = 0; frac = 0; fracDiv = 1; inNum = false; inFrac = false; neg = false; expMode = false; expNeg = false; expVal = 0;
  };
  const endEntry = (): void => {
    flushField();
    if (fieldIdx === 0) return;
    if (fieldIdx < (pattern ? 2 : 3)) throw dataInvalid(`${path}: entry ${n + 1} has ${fieldIdx} fields`);
    if (n >= declared) throw dataInvalid(`${path}: more entries than the ${declared} its size line declares`);
    if (n >= rows.length) grow();
    const r = field[0]!, c = field[1]!, v = pattern ? 1 : field[2]!;
    if (!(r >= 1 && r <= size![0]! && c >= 1 && c <= size![1]!)) {
      throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is outside the ${size![0]} x ${size![1]} matrix`);
    }
    if (!isStorable(v)) {
      throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is ${v}, not a finite number (values must be finite and fit a 32-bit float)`);
    }
    if (v < 0) throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is ${v}; a 10x matrix must hold raw UMI counts, which are never negative`);
    rows[n] = r - 1; cols[n] = c - 1; values[n] = v;
    if (integer && v !== Math.round(v)) { integer = false; firstNonInteger = `entry ${n + 1} (${r}, ${c}) is ${v}`; }
    n++;
    fieldIdx = 0;
  };
  const handleTextLine = (text: string): void => {
    if (header === null) {
      header = text;
      if (!/^%%MatrixMarket\s+matrix\s+coordinate/i.test(text)) throw dataInvalid(`${path}: not a Matrix Market coordinate file (header: ${text.slice(0, 60)})`);
      pattern = /\spattern/i.test(text);
      if (/\s(real|double)/i.test(text)) integer = true; // decided by the values themselves
      return;
    }
    if (text.startsWith("%") || text.trim() === "") return;
    size = text.trim().split(/\s+/).map(Number);
    if (size.length < 3 || size.some((x) => !Number.isInteger(x) || x < 0)) throw dataInvalid(`${path}: bad size line "${text}"`);
    declared = size[2]!;
    if (declared > size[0]! * size[1]!) {
      throw dataInvalid(`${path}: its size line declares ${declared} entries, more than a ${size[0]} x ${size[1]} matrix has`);
    }
  };
  const grow = (): void => {
    const capacity = Math.min(declared, Math.max(1 << 16, rows.length * 2));
    const r = new Int32Array(capacity), c = new Int32Array(capacity), v = new Float32Array(capacity);
    r.set(rows); c.set(cols); v.set(values);
    rows = r; cols = c; values = v;
  };
  const cap = (): number => (size === null ? MTX_MAX_HEADER_BYTES : headerBytes + declared * MTX_MAX_BYTES_PER_ENTRY + MAX_LINE_BYTES);
  try {
    for await (const chunk of readChunks(path)) {
      let i = 0;
      while (size === null && i < chunk.length) {
        const b = chunk[i++]!;
        if (b === 10) {
          handleTextLine(Buffer.from(line).toString("utf8").replace(/\r$/, ""));
          line = [];
          lineNo++;
          if (size !== null) headerBytes = total + i;
        } else if (line.length >= MAX_LINE_BYTES) {
          throw lineTooLong(path, lineNo, MAX_LINE_BYTES);
        } else line.push(b);
      }
      if (opts.sizeOnly && size !== null) break;
      total += chunk.length;
      if (total > cap()) {
        if (size === null) throw dataInvalid(`${path}: no size line in the first ${formatBytes(MTX_MAX_HEADER_BYTES)}, the most this worker reads before it`);
        throw dataInvalid(
          `${path}: more than ${formatBytes(cap())} of text${path.endsWith(".gz") ? " once unpacked" : ""} for the ${declared} entries its size line declares ` +
          `(at most ${MTX_MAX_BYTES_PER_ENTRY} bytes an entry, the most this worker reads)`,
        );
      }
      for (; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === 10) { lineNo++; lineBytes = 0; } else if (++lineBytes > MAX_LINE_BYTES) throw lineTooLong(path, lineNo, MAX_LINE_BYTES);
        if (b >= 48 && b <= 57) {
          inNum = true;
          if (expMode) expVal = expVal * 10 + (b - 48);
          else if (inFrac) { frac = frac * 10 + (b - 48); fracDiv *= 10; }
          else num = num * 10 + (b - 48);
        } else if (b === 32 || b === 9) flushField();
        else if (b === 10 || b === 13) endEntry();
        else if (b === 46) { inFrac = true; inNum = true; }
        else if (b === 45) { if (expMode) expNeg = true; else neg = true; }
        else if (b === 101 || b === 69) expMode = true;
        else if (b === 43) { /* '+' sign */ }
        else if (b === 37 && fieldIdx === 0 && !inNum) { throw dataInvalid(`${path}: comment inside the entries`); }
        else throw dataInvalid(`${path}: unexpected character '${String.fromCharCode(b)}' in entry ${n + 1}`);
      }
    }
    endEntry();
  } catch (err) {
    if (err instanceof WorkerError) throw err;
    throw readFailure(path, err);
  }
  if (size === null) throw dataInvalid(`${path}: no size line (empty or truncated file)`);
  const dims = size as number[];
  if (opts.sizeOnly) return { nRows: dims[0]!, nCols: dims[1]!, rows, cols, values, integer, firstNonInteger };
  if (n !== dims[2]) throw dataInvalid(`${path}: declares ${dims[2]} entries but holds ${n} (truncated?)`);
  return { nRows: dims[0]!, nCols: dims[1]!, rows, cols, values, integer, firstNonInteger };
}

/** annotations.csv: header row, first column = barcode in the same order as barcodes.tsv. */
async function readAnnotations(path: string, barcodes: string[]): Promise<ObsColumn[]> {
  const lines = await readLines(path, { ...TEXT_LIMITS.annotations, maxLines: barcodes.length + 1, maxLinesReason: `there are ${barcodes.length} barcodes (and a header row)` });
  if (lines.length === 0) return [];
  const header = splitCsvLine(lines[0]!);
  const rows = lines.slice(1).map(splitCsvLine);
  if (rows.length !== barcodes.length) throw dataInvalid(`${path}: has ${rows.length} rows but there are ${barcodes.length} barcodes`);
  rows.forEach((r, i) => {
    if (r[0] !== barcodes[i]) throw dataInvalid(`${path}: row ${i + 2} is barcode "${r[0]}", expected "${barcodes[i]}"`);
  });
  return header.slice(1).map((name, k) => typeColumn(name, rows.map((r) => r[k + 1] ?? "")));
}
