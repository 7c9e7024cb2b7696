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
 * (no per-line strings), so a 100k-cell matrix never exists as one string. The arrays are
 * allocated at the size line's count but filled only as entries are read: memory a file does
 * not fill is never touched, so it is never resident (where that allocation fails, for a count
 * beyond what an array can hold, they grow with the entries read instead). The text read is
 * capped: MTX_MAX_HEADER_BYTES before the size line, MTX_MAX_BYTES_PER_ENTRY per declared entry
 * after it, lines of at most MAX_LINE_BYTES.
 */
export async function readMatrixMarket(path: string, opts: { sizeOnly?: boolean } = {}): Promise<Triplets> {
  let header: string | null = null;
  let size: number[] | null = null;
  let pattern = false;
  let line: number[] = []; // bytes of a partial line (header/size section only)
  let lineNo = 1; // 1-based number of the line being read (header/size section)
  let total = 0; // bytes read so far (unpacked)
  let headerBytes = 0; // bytes up to and including the size line
  let declared = 0; // entries the size line declares
  let entries: EntryReader | null = null;
  const handleTextLine = (text: string): void => {
    if (header === null) {
      header = text;
      if (!/^%%MatrixMarket\s+matrix\s+coordinate/i.test(text)) throw dataInvalid(`${path}: not a Matrix Market coordinate file (header: ${text.slice(0, 60)})`);
      pattern = /\spattern/i.test(text);
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
      if (size === null) continue;
      entries ??= new EntryReader(path, size, pattern, lineNo, opts.sizeOnly === true);
      entries.feed(chunk, i);
    }
    entries?.end();
  } catch (err) {
    if (err instanceof WorkerError) throw err;
    throw readFailure(path, err);
  }
  if (size === null) throw dataInvalid(`${path}: no size line (empty or truncated file)`);
  const dims = size as number[];
  const e = entries ?? new EntryReader(path, dims, pattern, lineNo, true);
  const result = { nRows: dims[0]!, nCols: dims[1]!, rows: e.rows.subarray(0, e.n), cols: e.cols.subarray(0, e.n), values: e.values.subarray(0, e.n), integer: e.integer, firstNonInteger: e.firstNonInteger };
  if (opts.sizeOnly) return result;
  if (e.n !== dims[2]) throw dataInvalid(`${path}: declares ${dims[2]} entries but holds ${e.n} (truncated?)`);
  return result;
}

/**
 * The entry lines of a Matrix Market file, fed chunk by chunk. The byte loop keeps its state
 * in local variables (saved in fields between chunks): this is the hot loop of reading a
 * large Matrix Market file.
 */
class EntryReader {
  rows: Int32Array;
  cols: Int32Array;
  values: Float32Array;
  n = 0;
  integer = true;
  /** "entry 5 (1, 2) is 1.5" when not integer */
  firstNonInteger = "";
  readonly #path: string;
  readonly #nRows: number;
  readonly #nCols: number;
  readonly #declared: number;
  readonly #minFields: number;
  readonly #pattern: boolean;
  // parse state between chunks
  #f0 = 0; #f1 = 0; #f2 = 0; #fieldIdx = 0;
  #num = 0; #frac = 0; #fracDiv = 1; #inNum = false; #inFrac = false; #neg = false;
  #expMode = false; #expNeg = false; #expVal = 0;
  #lineNo: number;
  #lineBytes = 0;

  constructor(path: string, size: number[], pattern: boolean, lineNo: number, empty: boolean) {
    this.#path = path;
    this.#nRows = size[0]!;
    this.#nCols = size[1]!;
    this.#declared = size[2]!;
    this.#pattern = pattern;
    this.#minFields = pattern ? 2 : 3;
    this.#lineNo = lineNo;
    let capacity = 0;
    if (!empty) {
      // untouched pages of a large allocation are never resident: sizing to the declared count
      // costs no memory for entries a file does not hold, and no copies as the arrays fill
      try {
        this.rows = new Int32Array(this.#declared);
        this.cols = new Int32Array(this.#declared);
        this.values = new Float32Array(this.#declared);
        return;
      } catch {
        capacity = Math.min(this.#declared, 1 << 16);
      }
    }
    this.rows = new Int32Array(capacity);
    this.cols = new Int32Array(capacity);
    this.values = new Float32Array(capacity);
  }

  feed(chunk: Buffer, from: number): void {
    let f0 = this.#f0, f1 = this.#f1, f2 = this.#f2, fieldIdx = this.#fieldIdx;
    let num = this.#num, frac = this.#frac, fracDiv = this.#fracDiv, inNum = this.#inNum, inFrac = this.#inFrac, neg = this.#neg;
    let expMode = this.#expMode, expNeg = this.#expNeg, expVal = this.#expVal;
    let lineNo = this.#lineNo, lineBytes = this.#lineBytes;
    const len = chunk.length;
    try {
      for (let i = from; i < len; i++) {
        const b = chunk[i]!;
        if (b >= 48 && b <= 57) {
          if (++lineBytes > MAX_LINE_BYTES) throw lineTooLong(this.#path, lineNo, MAX_LINE_BYTES);
          inNum = true;
          if (expMode) expVal = expVal * 10 + (b - 48);
          else if (inFrac) { frac = frac * 10 + (b - 48); fracDiv *= 10; }
          else num = num * 10 + (b - 48);
          continue;
        }
        if (b === 32 || b === 9 || b === 10 || b === 13) {
          if (inNum) {
            let v = num + (inFrac ? frac / fracDiv : 0);
            if (expMode) v *= Math.pow(10, expNeg ? -expVal : expVal);
            if (neg) v = -v;
            if (fieldIdx === 0) f0 = v; else if (fieldIdx === 1) f1 = v; else if (fieldIdx === 2) f2 = v; // extra fields are ignored
            fieldIdx++;
            num = 0; frac = 0; fracDiv = 1; inNum = false; inFrac = false; neg = false; expMode = false; expNeg = false; expVal = 0;
          }
          if (b === 10) { lineNo++; lineBytes = 0; } else if (++lineBytes > MAX_LINE_BYTES) throw lineTooLong(this.#path, lineNo, MAX_LINE_BYTES);
          if ((b === 10 || b === 13) && fieldIdx > 0) {
            this.#entry(fieldIdx, f0, f1, f2);
            fieldIdx = 0;
          }
          continue;
        }
        if (++lineBytes > MAX_LINE_BYTES) throw lineTooLong(this.#path, lineNo, MAX_LINE_BYTES);
        if (b === 46) { inFrac = true; inNum = true; }
        else if (b === 45) { if (expMode) expNeg = true; else neg = true; }
        else if (b === 101 || b === 69) expMode = true;
        else if (b === 43) { /* '+' sign */ }
        else if (b === 37 && fieldIdx === 0 && !inNum) throw dataInvalid(`${this.#path}: comment inside the entries`);
        else throw dataInvalid(`${this.#path}: unexpected character '${String.fromCharCode(b)}' in entry ${this.n + 1}`);
      }
    } finally {
      this.#f0 = f0; this.#f1 = f1; this.#f2 = f2; this.#fieldIdx = fieldIdx;
      this.#num = num; this.#frac = frac; this.#fracDiv = fracDiv; this.#inNum = inNum; this.#inFrac = inFrac; this.#neg = neg;
      this.#expMode = expMode; this.#expNeg = expNeg; this.#expVal = expVal;
      this.#lineNo = lineNo; this.#lineBytes = lineBytes;
    }
  }

  /** The end of the file: a last entry without a newline. */
  end(): void {
    this.feed(Buffer.from("\n"), 0);
  }

  #entry(fields: number, r: number, c: number, v3: number): void {
    const path = this.#path;
    const n = this.n;
    if (fields < this.#minFields) throw dataInvalid(`${path}: entry ${n + 1} has ${fields} fields`);
    if (n >= this.#declared) throw dataInvalid(`${path}: more entries than the ${this.#declared} its size line declares`);
    if (n >= this.rows.length) this.#grow();
    const v = this.#pattern ? 1 : v3;
    if (!(r >= 1 && r <= this.#nRows && c >= 1 && c <= this.#nCols)) {
      throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is outside the ${this.#nRows} x ${this.#nCols} matrix`);
    }
    if (!isStorable(v)) {
      throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is ${v}, not a finite number (values must be finite and fit a 32-bit float)`);
    }
    if (v < 0) throw dataInvalid(`${path}: entry ${n + 1} (${r}, ${c}) is ${v}; a 10x matrix must hold raw UMI counts, which are never negative`);
    this.rows[n] = r - 1; this.cols[n] = c - 1; this.values[n] = v;
    if (this.integer && v !== Math.round(v)) { this.integer = false; this.firstNonInteger = `entry ${n + 1} (${r}, ${c}) is ${v}`; }
    this.n = n + 1;
  }

  #grow(): void {
    const capacity = Math.min(this.#declared, Math.max(1 << 16, this.rows.length * 2));
    const r = new Int32Array(capacity), c = new Int32Array(capacity), v = new Float32Array(capacity);
    r.set(this.rows); c.set(this.cols); v.set(this.values);
    this.rows = r; this.cols = c; this.values = v;
  }
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
