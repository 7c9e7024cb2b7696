/**
 * The one place h5wasm is used: open an HDF5 file read-only, read datasets and attributes as
 * plain JS values, decode strings, dereference object references, close the file.
 *
 * Every failure is a `WorkerError` whose message names the file (its base name) and the element:
 * missing file → DATA_NOT_FOUND; not HDF5, truncated, unreadable element → DATA_INVALID;
 * too large for the Wasm heap → DATA_UNSUPPORTED. Raw h5wasm errors never escape, and neither
 * does anything h5wasm prints (see `quiet`).
 */
import { open, stat } from "node:fs/promises";
import { basename } from "node:path";
import type * as H5wasmModule from "h5wasm/node";
import type { Attribute, Dataset, Entity, File as RawFile, Metadata } from "h5wasm/node";
import { ErrorCode, WorkerError } from "../../result/errors.ts";

/** Typed arrays a numeric dataset is returned as (64-bit integers become Float64Array). */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/** What a dataset's element type is, coarsely. h5py booleans are enums FALSE=0/TRUE=1 → "boolean". */
export type H5ElementKind = "integer" | "float" | "boolean" | "enum" | "string" | "compound" | "reference" | "other";

export interface H5DatasetInfo {
  /** [] for a scalar dataset */
  shape: number[];
  kind: H5ElementKind;
}

/** A numeric member of a compound dataset, one row per record (`dims` values per row, row-major). */
export interface H5CompoundColumn {
  name: string;
  dims: number;
  values: Float64Array;
}

// HDF5 datatype classes (H5T_class_t) as h5wasm reports them in Metadata.type
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_COMPOUND = 6;
const H5T_REFERENCE = 7;
const H5T_ENUM = 8;
const H5T_ARRAY = 10;
const H5T_STR_SPACEPAD = 2;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

let readyPromise: Promise<void> | undefined;
/**
 * h5wasm, set by ensureReady. It is imported on first use, not with this module: importing it
 * starts its Wasm runtime (~80 ms of one CPU), which a worker serving a Matrix Market folder or
 * its processed-state cache never needs, and which would otherwise run during its first open.
 */
let h5wasm: typeof H5wasmModule.default;
let Reference: typeof H5wasmModule.Reference;

/** Loads the Wasm module once and makes HDF5 errors throw (instead of printing HDF5-DIAG to stderr). */
function ensureReady(): Promise<void> {
  readyPromise ??= import("h5wasm/node").then(async (mod) => {
    h5wasm = mod.default;
    Reference = mod.Reference;
    (await h5wasm.ready).activate_throwing_error_handler();
  });
  return readyPromise;
}

/** What h5wasm printed during the current `quiet` call (null outside one). */
let printed: string[] | null = null;

/**
 * Runs `fn` (synchronous h5wasm work) with process.stdout/stderr writes captured instead of
 * written. h5wasm's Emscripten runtime prints with console.log/console.error bound when the
 * module loads (so Module.print/printErr cannot be set afterwards): `Aborted(...)` when HDF5
 * calls abort() on a damaged file, "Cannot enlarge memory" when the heap is full, and C stdio.
 * Those raw lines would break the JSON log stream; the call fails with an error instead, which
 * becomes a WorkerError here. No other JavaScript runs during a synchronous call, so nothing
 * else's output is captured. Nested calls share the outer capture.
 */
function quiet<T>(fn: () => T): T {
  if (printed !== null) return fn();
  const streams = [process.stdout, process.stderr];
  const own = streams.map((s) => Object.getOwnPropertyDescriptor(s, "write"));
  const capture = (chunk: unknown): boolean => {
    if (printed !== null && printed.length < 100) printed.push(String(chunk).slice(0, 1000));
    return true;
  };
  printed = [];
  for (const s of streams) s.write = capture as typeof s.write;
  try {
    return fn();
  } finally {
    streams.forEach((s, i) => {
      const d = own[i];
      if (d) Object.defineProperty(s, "write", d);
      else delete (s as { write?: unknown }).write; // back to the prototype's write
    });
    printed = null;
  }
}

/**
 * Opens `path` read-only, runs `fn` on it and always closes the file. `fn` must be synchronous
 * (h5wasm is), so everything h5wasm does runs inside `quiet`. RangeErrors thrown by `fn` (e.g.
 * from the sparse builders) become DATA_INVALID naming the file.
 */
export async function withH5File<T>(path: string, fn: (file: H5File) => T): Promise<T> {
  await checkHdf5File(path);
  await ensureReady();
  const name = basename(path);
  return quiet(() => {
    let raw: RawFile;
    try {
      raw = new h5wasm.File(path, "r");
    } catch (err) {
      throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: not a readable HDF5 file (${describeH5Error(err)})`, { cause: err });
    }
    const file = new H5File(path, raw);
    try {
      return fn(file);
    } catch (err) {
      if (err instanceof RangeError) {
        throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: ${err.message}`, { cause: err });
      }
      throw err;
    } finally {
      try {
        raw.close();
      } catch {
        // closing a file HDF5 already gave up on: nothing more to do
      }
    }
  });
}

/**
 * A read-only view of an open HDF5 file. Paths are relative to the root ("obs/_index").
 * Only valid inside `withH5File`'s callback.
 */
export class H5File {
  /** the path as given to withH5File */
  readonly path: string;
  /** the file's base name, used in messages */
  readonly name: string;
  readonly #raw: RawFile;

  constructor(path: string, raw: RawFile) {
    this.path = path;
    this.name = basename(path);
    this.#raw = raw;
  }

  /** A DATA_INVALID error whose message starts with the file name. */
  invalid(message: string, cause?: unknown): WorkerError {
    return new WorkerError(ErrorCode.DATA_INVALID, `${this.name}: ${message}`, cause === undefined ? undefined : { cause });
  }

  /** A DATA_UNSUPPORTED error whose message starts with the file name. */
  unsupported(message: string): WorkerError {
    return new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${this.name}: ${message}`);
  }

  /** "group", "dataset", or null when nothing (or a link/named type) is at `p`. */
  kind(p: string): "group" | "dataset" | null {
    const e = this.#entity(p);
    if (e instanceof h5wasm.Group) return "group";
    if (e instanceof h5wasm.Dataset) return "dataset";
    return null;
  }

  has(p: string): boolean {
    return this.kind(p) !== null;
  }

  /** Names of a group's members ([] when `p` is not a group). */
  keys(p: string): string[] {
    const e = this.#entity(p);
    if (!(e instanceof h5wasm.Group)) return [];
    return this.#guard(p, () => e.keys());
  }

  /** Shape and element kind of the dataset at `p`. */
  info(p: string): H5DatasetInfo {
    const d = this.#dataset(p);
    return this.#guard(p, () => {
      const m = d.metadata;
      return { shape: m.shape ?? [], kind: elementKind(m) };
    });
  }

  /** A numeric (integer, float, boolean or enum) dataset as a flat typed array, row-major. */
  readNumbers(p: string): NumericArray {
    const d = this.#dataset(p);
    const m = this.#guard(p, () => d.metadata);
    const kind = elementKind(m);
    if (kind !== "integer" && kind !== "float" && kind !== "boolean" && kind !== "enum") {
      throw this.invalid(`${p} should hold numbers but holds ${describeKind(kind)}`);
    }
    const value = this.#guard(p, () => d.value);
    return this.#toNumeric(p, value);
  }

  /**
   * A one-dimensional numeric dataset read in slices of `chunk` elements into a new array of
   * `Ctor`, so that h5wasm's heap holds one slice at a time, not the whole dataset (and, for
   * 64-bit integers, no 8-byte copy of it either). Into an Int32Array, every value must be an
   * integer of that range. `check` sees each slice's values as read (before any conversion),
   * with the index of its first element.
   */
  readNumbersInto<T extends Int32Array | Float32Array>(
    p: string, Ctor: { new(n: number): T; readonly BYTES_PER_ELEMENT: number }, check?: (values: NumericArray, offset: number) => void, chunk = 1 << 22,
  ): T {
    const d = this.#dataset(p);
    const m = this.#guard(p, () => d.metadata);
    const kind = elementKind(m);
    if (kind !== "integer" && kind !== "float" && kind !== "boolean" && kind !== "enum") {
      throw this.invalid(`${p} should hold numbers but holds ${describeKind(kind)}`);
    }
    const shape = m.shape ?? [];
    if (shape.length !== 1) throw this.invalid(`${p} should be one-dimensional but has shape (${shape.join(", ")})`);
    const n = shape[0]!;
    const out = new Ctor(n);
    const ints = (out as Int32Array | Float32Array) instanceof Int32Array;
    for (let at = 0; at < n; at += chunk) {
      const end = Math.min(n, at + chunk);
      const values = this.#toNumeric(p, this.#guard(p, () => d.slice([[at, end]])));
      if (values.length !== end - at) throw this.invalid(`cannot read ${p} (a slice of ${end - at} values gave ${values.length})`);
      check?.(values, at);
      if (ints) {
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (!(Number.isInteger(v) && v >= -2147483648 && v <= 2147483647)) throw this.invalid(`${p} should hold 32-bit integers but has ${v} at entry ${at + i}`);
        }
      }
      out.set(values, at);
    }
    return out;
  }

  /** A string dataset (variable-length or fixed-length, UTF-8 or ASCII) as string[]. */
  readStrings(p: string): string[] {
    const d = this.#dataset(p);
    const m = this.#guard(p, () => d.metadata);
    if (m.type !== H5T_STRING) throw this.invalid(`${p} should hold strings but holds ${describeKind(elementKind(m))}`);
    const value = this.#guard(p, () => d.value);
    const list = typeof value === "string" ? [value] : Array.isArray(value) ? value : null;
    if (list === null) throw this.invalid(`${p} could not be read as strings`);
    return list.map((s) => decodeString(String(s), m));
  }

  /**
   * The numeric members of a compound (record) dataset, each as rows x dims. Members that are
   * neither numbers nor fixed-size arrays of numbers are listed in `skipped`.
   */
  readCompoundColumns(p: string): { rows: number; columns: H5CompoundColumn[]; skipped: string[] } {
    const d = this.#dataset(p);
    const m = this.#guard(p, () => d.metadata);
    const members = m.compound_type?.members;
    if (m.type !== H5T_COMPOUND || members === undefined) throw this.invalid(`${p} is not a compound dataset`);
    const plan = members.map((member) => {
      if (member.type === H5T_INTEGER || member.type === H5T_FLOAT) return { name: member.name, dims: 1 };
      const base = member.array_type;
      if (member.type === H5T_ARRAY && base !== undefined && (base.type === H5T_INTEGER || base.type === H5T_FLOAT)) {
        const dims = (base.shape ?? []).reduce((a, b) => a * b, 1);
        return { name: member.name, dims };
      }
      return { name: member.name, dims: 0 };
    });
    const value = this.#guard(p, () => d.value);
    if (!Array.isArray(value)) throw this.invalid(`${p} could not be read as records`);
    const rows = value.length;
    const columns: H5CompoundColumn[] = [];
    const skipped: string[] = [];
    plan.forEach((col, j) => {
      if (col.dims === 0) { skipped.push(col.name); return; }
      const out = new Float64Array(rows * col.dims);
      for (let r = 0; r < rows; r++) {
        const row = value[r];
        const cell = Array.isArray(row) ? row[j] : undefined;
        const flat = flattenNumbers(cell);
        if (flat === null || flat.length !== col.dims) { skipped.push(col.name); return; }
        out.set(flat, r * col.dims);
      }
      columns.push({ name: col.name, dims: col.dims, values: out });
    });
    return { rows, columns, skipped };
  }

  /** Attribute names of the object at `p` ([] when there is no such object). */
  attrNames(p: string): string[] {
    const e = this.#entity(p);
    if (!(e instanceof h5wasm.Group || e instanceof h5wasm.Dataset)) return [];
    return this.#guard(p, () => Object.keys(e.attrs));
  }

  /** A string attribute (scalar, or the first of a 1-element array); undefined if absent or not a string. */
  attrString(p: string, name: string): string | undefined {
    const strings = this.attrStrings(p, name);
    return strings !== undefined && strings.length === 1 ? strings[0] : undefined;
  }

  /** A string or string-array attribute; undefined if absent or not strings. */
  attrStrings(p: string, name: string): string[] | undefined {
    const attr = this.#attr(p, name);
    if (attr === undefined || attr.metadata.type !== H5T_STRING) return undefined;
    const value = this.#guard(`${p} attribute ${name}`, () => attr.value);
    if (typeof value === "string") return [decodeString(value, attr.metadata)];
    if (Array.isArray(value)) return value.map((s) => decodeString(String(s), attr.metadata));
    return undefined;
  }

  /** A numeric (or boolean/enum) attribute as number[]; undefined if absent or not numeric. */
  attrNumbers(p: string, name: string): number[] | undefined {
    const attr = this.#attr(p, name);
    if (attr === undefined) return undefined;
    const kind = elementKind(attr.metadata);
    if (kind !== "integer" && kind !== "float" && kind !== "boolean" && kind !== "enum") return undefined;
    const value = this.#guard(`${p} attribute ${name}`, () => attr.value);
    if (typeof value === "number") return [value];
    if (typeof value === "bigint") return [Number(value)];
    if (typeof value === "boolean") return [value ? 1 : 0];
    if (ArrayBuffer.isView(value)) return Array.from(this.#toNumeric(`${p} attribute ${name}`, value));
    return undefined;
  }

  /**
   * The path an object-reference attribute points to (e.g. anndata 0.7's `categories` attribute
   * → "/obs/__categories/groups"); undefined if absent, not a reference, or not dereferenceable.
   */
  attrReferenceTarget(p: string, name: string): string | undefined {
    const attr = this.#attr(p, name);
    if (attr === undefined || attr.metadata.type !== H5T_REFERENCE || attr.metadata.ref_type !== "object") return undefined;
    try {
      const value = attr.value;
      const ref = Array.isArray(value) ? value[0] : value;
      if (!(ref instanceof Reference)) return undefined;
      const target = this.#raw.dereference(ref);
      if (target instanceof h5wasm.Group || target instanceof h5wasm.Dataset) return target.path;
      return undefined;
    } catch {
      return undefined;
    }
  }

  #entity(p: string): Entity | null {
    try {
      return this.#raw.get(p) ?? null;
    } catch {
      // h5wasm throws for malformed paths or unreadable links; treat as absent
      return null;
    }
  }

  #dataset(p: string): Dataset {
    const e = this.#entity(p);
    if (e instanceof h5wasm.Dataset) return e;
    if (e instanceof h5wasm.Group) throw this.invalid(`${p} is a group, expected a dataset`);
    throw this.invalid(`${p} is missing`);
  }

  #attr(p: string, name: string): Attribute | undefined {
    const e = this.#entity(p);
    if (!(e instanceof h5wasm.Group || e instanceof h5wasm.Dataset)) return undefined;
    return this.#guard(`${p} attribute ${name}`, () => {
      const attrs = e.attrs;
      return Object.hasOwn(attrs, name) ? attrs[name] : undefined;
    });
  }

  /** Runs an h5wasm call, turning whatever it throws into a WorkerError naming the element. */
  #guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof WorkerError) throw err;
      const reason = describeH5Error(err);
      if (/maximum memory|allocation .* failed|out of memory|cannot enlarge memory|failed to grow the heap/i.test(`${reason}\n${(printed ?? []).join("")}`)) {
        throw new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${this.name}: ${what} is too large to read in memory (${reason})`, { cause: err });
      }
      throw this.invalid(`cannot read ${what} (${reason})`, err);
    }
  }

  #toNumeric(what: string, value: unknown): NumericArray {
    if (typeof value === "number") return Float64Array.of(value);
    if (typeof value === "bigint") return Float64Array.of(Number(value));
    if (value instanceof BigInt64Array || value instanceof BigUint64Array) {
      const out = new Float64Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const v = value[i]!;
        if (v > 9007199254740991n || v < -9007199254740991n) throw this.invalid(`${what} holds an integer too large to represent exactly (${v})`);
        out[i] = Number(v);
      }
      return out;
    }
    if (
      value instanceof Float64Array || value instanceof Float32Array || value instanceof Int32Array ||
      value instanceof Uint32Array || value instanceof Int16Array || value instanceof Uint16Array ||
      value instanceof Int8Array || value instanceof Uint8Array
    ) return value;
    throw this.invalid(`${what} could not be read as numbers`);
  }
}

function elementKind(m: Metadata): H5ElementKind {
  switch (m.type) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: {
      const members = m.enum_type?.members ?? {};
      const names = Object.keys(members);
      return names.length === 2 && members["FALSE"] === 0 && members["TRUE"] === 1 ? "boolean" : "enum";
    }
    default: return "other";
  }
}

function describeKind(kind: H5ElementKind): string {
  return kind === "other" ? "an unsupported type" : kind === "integer" ? "integers" : kind === "float" ? "floats" : `${kind} values`;
}

function flattenNumbers(x: unknown): number[] | null {
  if (typeof x === "number") return [x];
  if (typeof x === "bigint") return [Number(x)];
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return Array.from(x as unknown as ArrayLike<number | bigint>, Number);
  if (Array.isArray(x)) {
    const out: number[] = [];
    for (const item of x) {
      const f = flattenNumbers(item);
      if (f === null) return null;
      out.push(...f);
    }
    return out;
  }
  return null;
}

// --- strings -------------------------------------------------------------------------------

let cp1252Bytes: Map<string, number> | undefined;

/**
 * Byte strings flagged ASCII (cset 0) usually hold UTF-8 anyway (h5py writes Python bytes that
 * way, Cell Ranger writes ASCII). h5wasm decodes fixed-length ones with TextDecoder("ascii") —
 * which is windows-1252 — and variable-length ones byte-per-char (latin-1). Recover the bytes and
 * decode them as UTF-8 when that is valid; pure-ASCII strings are returned unchanged.
 */
function decodeString(s: string, m: Metadata): string {
  let out = s;
  if (m.cset !== 1 && /[^\x00-\x7f]/.test(s)) {
    const bytes = new Uint8Array(s.length);
    let ok = true;
    for (let i = 0; i < s.length && ok; i++) {
      const code = s.charCodeAt(i);
      if (m.vlen) {
        if (code > 0xff) ok = false; else bytes[i] = code;
      } else {
        const b = cp1252Table().get(s[i]!);
        if (b === undefined) ok = false; else bytes[i] = b;
      }
    }
    if (ok) {
      try {
        out = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        out = s; // not UTF-8: keep h5wasm's single-byte reading
      }
    }
  }
  if (!m.vlen && m.strpad === H5T_STR_SPACEPAD) out = out.replace(/ +$/, "");
  return out;
}

function cp1252Table(): Map<string, number> {
  if (cp1252Bytes === undefined) {
    cp1252Bytes = new Map();
    const decoder = new TextDecoder("ascii"); // the label h5wasm uses
    for (let b = 0; b < 256; b++) cp1252Bytes.set(decoder.decode(Uint8Array.of(b)), b);
  }
  return cp1252Bytes;
}

// --- file checks before HDF5 sees the file --------------------------------------------------

/**
 * Checks the file exists, carries the HDF5 signature and is not shorter than its superblock
 * says, so the common user errors get a clear message (and HDF5 never prints diagnostics).
 */
async function checkHdf5File(path: string): Promise<void> {
  const name = basename(path);
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: is a directory, not an HDF5 file`);
    size = st.size;
  } catch (err) {
    if (err instanceof WorkerError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `${name}: file not found`, { cause: err });
    throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: cannot be read (${code ?? "unknown error"})`, { cause: err });
  }
  if (size === 0) throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: is empty, not an HDF5 file`);
  const handle = await open(path, "r");
  try {
    // The superblock is at 0 or after a user block of 512, 1024, 2048, ... bytes.
    for (let base = 0; base + 8 <= size; base = base === 0 ? 512 : base * 2) {
      const head = Buffer.alloc(64);
      const { bytesRead } = await handle.read(head, 0, 64, base);
      if (!HDF5_SIGNATURE.every((b, i) => head[i] === b)) continue;
      const declared = declaredEndOfFile(head.subarray(0, bytesRead), base);
      if (declared !== undefined && declared > size) {
        throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: is truncated (${size} bytes, but its HDF5 header says ${declared})`);
      }
      return;
    }
  } finally {
    await handle.close();
  }
  throw new WorkerError(ErrorCode.DATA_INVALID, `${name}: is not an HDF5 file (no HDF5 signature)`);
}

/** End-of-file address from the superblock (absolute), or undefined when it cannot be read. */
function declaredEndOfFile(sb: Buffer, base: number): number | undefined {
  const version = sb[8];
  let offsetSize: number | undefined;
  let eofAt: number;
  let baseAt: number;
  if (version === 0 || version === 1) {
    offsetSize = sb[13];
    baseAt = version === 0 ? 24 : 28;
    if (offsetSize === undefined) return undefined;
    eofAt = baseAt + 2 * offsetSize;
  } else if (version === 2 || version === 3) {
    offsetSize = sb[9];
    baseAt = 12;
    if (offsetSize === undefined) return undefined;
    eofAt = baseAt + 2 * offsetSize;
  } else {
    return undefined;
  }
  if ((offsetSize !== 4 && offsetSize !== 8) || eofAt + offsetSize > sb.length) return undefined;
  const read = (at: number): number | undefined => {
    if (offsetSize === 4) {
      const v = sb.readUInt32LE(at);
      return v === 0xffffffff ? undefined : v;
    }
    const v = sb.readBigUInt64LE(at);
    return v === 0xffffffffffffffffn ? undefined : Number(v);
  };
  const baseAddress = read(baseAt) ?? base;
  const eof = read(eofAt);
  return eof === undefined ? undefined : baseAddress + eof;
}

/** One line from an h5wasm / HDF5 error: the innermost "minor:" reason when there is one. */
function describeH5Error(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // HDF5 calling abort() or a Wasm trap (out-of-bounds access) on damaged metadata
  if ((err instanceof Error && err.name === "RuntimeError") || message.startsWith("Aborted(")) return "the file looks damaged: HDF5 stopped reading it";
  const minors = [...message.matchAll(/minor:\s*(.+)/g)].map((m) => m[1]!.trim());
  if (minors.length > 0) return minors[minors.length - 1]!;
  const first = message.split("\n").find((l) => l.trim() !== "") ?? "unknown error";
  return first.trim().slice(0, 200);
}

// --- writing ----------------------------------------------------------------------------------

/** Typed arrays a dataset or attribute can be written from (64-bit integers as BigInt64Array). */
export type WritableNumbers = NumericArray | BigInt64Array;

/**
 * An attribute value: a string, an array of strings (an empty one is written as an empty float
 * array, as h5py does), numbers, or a boolean (an HDF5 enum FALSE/TRUE, see `booleans`).
 */
export type H5AttrValue = string | string[] | WritableNumbers | boolean;

/** Element types of datasets that grow as they are written. */
export type H5AppendType = "f4" | "f8" | "i4" | "i8";

/** elements per chunk of a growing dataset (256 KiB of float32) */
const APPEND_CHUNK = 1 << 16;
/** gzip level of growing datasets (h5py's default is 4) */
const APPEND_GZIP_LEVEL = 4;

/**
 * Creates `path` (replacing any file there), runs `fn` on a writer and always closes the file.
 * The file uses the earliest HDF5 formats that hold it (as h5py does by default; readable by
 * HDF5 1.8+). Failures are plain Errors (a failed write is an internal error, not the user's):
 * the file may then be incomplete and the caller should delete it.
 */
export async function withH5Writer<T>(path: string, fn: (writer: H5Writer) => T | Promise<T>): Promise<T> {
  await ensureReady();
  let raw: RawFile;
  try {
    raw = new h5wasm.File(path, "w", { libver: ["earliest", "v110"] });
  } catch (err) {
    throw new Error(`cannot create ${basename(path)} (${describeH5Error(err)})`, { cause: err });
  }
  const writer = new H5Writer(raw);
  let result: T;
  try {
    result = await fn(writer);
  } finally {
    try {
      raw.close();
    } catch {
      // the file is being abandoned after an error: nothing more to do
    }
  }
  await patchBooleanPlaceholders(path, writer.booleanMarkers);
  return result;
}

/**
 * A write-only view of a new HDF5 file. Paths are absolute from the root without the leading
 * slash ("obs/_index"); "" is the root. Only valid inside `withH5Writer`'s callback.
 */
export class H5Writer {
  readonly #raw: RawFile;
  /** compound member names standing for booleans, rewritten as enums once the file is closed */
  readonly booleanMarkers: string[] = [];
  readonly #markerPrefix = `cellworker-bool-${Math.random().toString(16).slice(2, 10).padEnd(8, "0")}-`;

  constructor(raw: RawFile) {
    this.#raw = raw;
  }

  /** Creates a group (its parent must exist) with attributes. */
  group(p: string, attrs: Record<string, H5AttrValue> = {}): void {
    this.#guard(p, () => this.#raw.create_group(p));
    this.attrs(p, attrs);
  }

  /** Sets attributes of the root (""), a group or a dataset. */
  attrs(p: string, attrs: Record<string, H5AttrValue>): void {
    const e = p === "" ? this.#raw : this.#guard(p, () => this.#raw.get(p));
    if (!(e instanceof h5wasm.Group || e instanceof h5wasm.Dataset)) throw new Error(`HDF5 write: ${p} is not a group or dataset`);
    for (const [name, value] of Object.entries(attrs)) {
      this.#guard(`${p} attribute ${name}`, () => {
        if (typeof value === "boolean") {
          const marker = this.#marker();
          e.create_attribute(name, new Map([[marker, Int8Array.of(value ? 1 : 0)]]), [], [[marker, "<b"]]);
        } else if (Array.isArray(value) && value.length === 0) {
          e.create_attribute(name, new Float64Array(0), [0]);
        } else {
          e.create_attribute(name, value);
        }
      });
    }
  }

  /** A numeric dataset; `shape` defaults to 1-D (a 2-D shape is row-major). */
  numbers(p: string, values: WritableNumbers, opts: { shape?: number[]; attrs?: Record<string, H5AttrValue> } = {}): void {
    const shape = opts.shape ?? [values.length];
    if (shape.reduce((a, b) => a * b, 1) !== values.length) throw new Error(`HDF5 write: ${p} has ${values.length} values for shape ${shape.join(" x ")}`);
    this.#guard(p, () => this.#raw.create_dataset({ name: p, data: values, shape }));
    this.attrs(p, opts.attrs ?? {});
  }

  /**
   * A 1-D boolean dataset (non-zero = true) as h5py writes numpy booleans: an 8-bit enum with
   * members FALSE = 0 and TRUE = 1. h5wasm cannot create enum types, so the dataset is created
   * with a one-member 8-bit compound type of the same size, whose type message is rewritten
   * into the enum when the file is closed (`patchBooleanPlaceholders`).
   */
  booleans(p: string, values: Uint8Array, attrs: Record<string, H5AttrValue> = {}): void {
    const marker = this.#marker();
    const data = Int8Array.from(values, (v) => (v ? 1 : 0));
    this.#guard(p, () => this.#raw.create_dataset({ name: p, data: new Map([[marker, data]]), shape: [values.length], dtype: [[marker, "<b"]] }));
    this.attrs(p, attrs);
  }

  /** A 1-D dataset of variable-length UTF-8 strings. */
  strings(p: string, values: string[], attrs: Record<string, H5AttrValue> = {}): void {
    this.#guard(p, () => this.#raw.create_dataset({ name: p, data: values, shape: [values.length], dtype: "S" }));
    this.attrs(p, attrs);
  }

  /** A scalar variable-length UTF-8 string dataset. */
  string(p: string, value: string, attrs: Record<string, H5AttrValue> = {}): void {
    this.#guard(p, () => this.#raw.create_dataset({ name: p, data: value, shape: [], dtype: "S" }));
    this.attrs(p, attrs);
  }

  /**
   * A 1-D chunked, gzip-compressed dataset that starts empty and grows with each `append`, so
   * a large array is written piece by piece and never whole in memory.
   */
  appendable(p: string, type: H5AppendType, attrs: Record<string, H5AttrValue> = {}): H5Appender {
    const dtype = { f4: "<f", f8: "<d", i4: "<i", i8: "<q" }[type];
    const empty = { f4: new Float32Array(0), f8: new Float64Array(0), i4: new Int32Array(0), i8: new BigInt64Array(0) }[type];
    const d = this.#guard(p, () => this.#raw.create_dataset({
      name: p, data: empty, shape: [0], dtype, maxshape: [null], chunks: [APPEND_CHUNK],
      compression: "gzip", compression_opts: APPEND_GZIP_LEVEL,
    }));
    this.attrs(p, attrs);
    return new H5Appender(p, d, (what, fn) => this.#guard(what, fn));
  }

  #marker(): string {
    const marker = `${this.#markerPrefix}${String(this.booleanMarkers.length).padStart(6, "0")}`;
    this.booleanMarkers.push(marker);
    return marker;
  }

  #guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new Error(`HDF5 write of ${what} failed (${describeH5Error(err)})`, { cause: err });
    }
  }
}

/** A growing dataset made by `H5Writer.appendable`. */
export class H5Appender {
  readonly #path: string;
  readonly #dataset: Dataset;
  readonly #guard: <T>(what: string, fn: () => T) => T;
  #length = 0;

  constructor(path: string, dataset: Dataset, guard: <T>(what: string, fn: () => T) => T) {
    this.#path = path;
    this.#dataset = dataset;
    this.#guard = guard;
  }

  /** values written so far */
  get length(): number {
    return this.#length;
  }

  append(values: WritableNumbers): void {
    if (values.length === 0) return;
    const start = this.#length;
    const end = start + values.length;
    this.#guard(this.#path, () => {
      this.#dataset.resize([end]);
      this.#dataset.write_slice([[start, end]], values);
    });
    this.#length = end;
  }
}

/**
 * The version-1 datatype message of h5py's boolean: an enum (class 8) of 2 members, size 1, on a
 * signed 8-bit little-endian integer base, member names padded to 8 bytes, then the values.
 */
const BOOLEAN_ENUM_MESSAGE = Uint8Array.of(
  0x18, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // enum v1, 2 members, size 1
  0x10, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, // base: int v1, signed, size 1, offset 0, precision 8
  ...new TextEncoder().encode("FALSE"), 0, 0, 0, // "FALSE\0" padded to 8
  ...new TextEncoder().encode("TRUE"), 0, 0, 0, 0, // "TRUE\0" padded to 8
  0x00, 0x01, // FALSE = 0, TRUE = 1
);
/** how the placeholder's version-1 compound datatype message starts: compound v1, 1 member, size 1 */
const PLACEHOLDER_HEAD = [0x16, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00];
const SCAN_WINDOW = 1 << 20;

/**
 * Rewrites each placeholder compound type (written with version-1 object headers, which carry
 * no checksum) into the boolean enum, in place: the enum message is shorter than the compound's,
 * and HDF5 reads a type message by its own content and skips it by the size recorded around it,
 * so the bytes after it are ignored. Both types are 1 byte per element, so the data is already
 * right. Object headers come before the data they describe in a file written front to back, so
 * the scan usually stops early. A marker not found (or not where expected) is an Error.
 */
async function patchBooleanPlaceholders(path: string, markers: readonly string[]): Promise<void> {
  if (markers.length === 0) return;
  const pending = new Map(markers.map((m) => [m, Buffer.from(m + "\0", "latin1")]));
  const handle = await open(path, "r+");
  try {
    const { size } = await handle.stat();
    const overlap = 64;
    const buf = Buffer.alloc(SCAN_WINDOW + overlap);
    for (let pos = 0; pos < size && pending.size > 0; pos += SCAN_WINDOW) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      const view = buf.subarray(0, bytesRead);
      for (const [marker, needle] of pending) {
        const at = view.indexOf(needle);
        if (at < 0) continue;
        const typeAt = pos + at - PLACEHOLDER_HEAD.length;
        const head = Buffer.alloc(PLACEHOLDER_HEAD.length);
        if (typeAt >= 0) await handle.read(head, 0, head.length, typeAt);
        if (typeAt < 0 || !PLACEHOLDER_HEAD.every((b, i) => head[i] === b)) throw new Error(`HDF5 write: the boolean placeholder ${marker} is not in the expected type message`);
        // the enum message, then zeros over the rest of the placeholder's member name
        const padded = PLACEHOLDER_HEAD.length + Math.ceil(needle.length / 8) * 8;
        const patch = Buffer.alloc(Math.max(padded, BOOLEAN_ENUM_MESSAGE.length));
        patch.set(BOOLEAN_ENUM_MESSAGE);
        if (patch.length > padded) throw new Error(`HDF5 write: the boolean placeholder ${marker} is too short to patch`);
        await handle.write(patch, 0, patch.length, typeAt);
        pending.delete(marker);
      }
    }
  } finally {
    await handle.close();
  }
  if (pending.size > 0) throw new Error(`HDF5 write: ${pending.size} boolean placeholders were not found in ${basename(path)}`);
}
