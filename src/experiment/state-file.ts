/**
 * A small versioned binary container for typed arrays plus a JSON header:
 *
 *   "CWSTAT3\n" | u32 header length | header JSON | zero padding to 8 bytes | array bytes … |
 *   u32 CRC-32 of the bytes before the arrays
 *
 * The header lists each array's name, type, byte offset, length and CRC-32. Reading verifies
 * the magic, the lengths, the header's checksum and each array's, so a truncated or corrupted
 * file is rejected, never half-trusted. The checksums guard against accidents (a full disk, a
 * torn copy, bit rot), as gzip's and PNG's CRC-32 do; the cache folder is the worker's own, so
 * they are not a signature. CRC-32 runs at about 2.5 GB/s here against SHA-256's 0.75 GB/s
 * (the first format), which is seconds on a million-cell experiment's cache.
 *
 * A deferred array can also be read in parts (`readSlices`: elements [from, to), each by
 * positional reads); no checksum covers a part, so the caller checks it (the cache keeps a
 * CRC-32 per matrix row for this).
 *
 * Both directions stream: each array's bytes go between the file and the array's own memory
 * in chunks, so a file of many gigabytes needs no copy of itself in memory and no single read
 * or write above the operating system's 2 GiB limit. With one checksum per array, a reader can
 * leave some arrays for later (`defer`): they are read, and checked, when asked for, after the
 * file is verified to be the same one (its header bytes unchanged).
 */
import { crc32 } from "node:zlib";
import { open, type FileHandle } from "node:fs/promises";

const MAGIC = Buffer.from("CWSTAT3\n", "latin1");
const CRC_BYTES = 4;
/** earlier formats' magic: read as "rebuild" */
const OLD_MAGICS = [Buffer.from("CWSTATE\n", "latin1"), Buffer.from("CWSTAT2\n", "latin1")];
/** bytes per read or write call */
const CHUNK = 64 << 20;

type TypedArray = Float64Array | Float32Array | Int32Array | Uint8Array;
const CTORS = { Float64Array, Float32Array, Int32Array, Uint8Array } as const;
type TypeName = keyof typeof CTORS;

interface ArrayEntry { name: string; type: TypeName; offset: number; length: number; crc: number }

export class StateFileError extends Error {}

const padTo8 = (n: number): number => Math.ceil(n / 8) * 8;
const bytesOf = (a: TypedArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** CRC-32 of bytes, in chunks (zlib's crc32 takes at most 2 GiB at once). */
function crcOf(bytes: Uint8Array): number {
  let c = 0;
  for (let at = 0; at < bytes.length; at += CHUNK) c = crc32(bytes.subarray(at, Math.min(bytes.length, at + CHUNK)), c);
  return c >>> 0;
}

/** Writes `meta` and `arrays` to `path` (created or truncated). */
export async function writeStateFile(path: string, meta: unknown, arrays: Record<string, TypedArray>): Promise<void> {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(arrays)) {
    entries.push({ name, type: arr.constructor.name as TypeName, offset, length: arr.length, crc: crcOf(bytesOf(arr)) });
    offset += padTo8(arr.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ meta, arrays: entries }), "utf8");
  const head = Buffer.alloc(padTo8(MAGIC.length + 4 + header.length));
  MAGIC.copy(head, 0);
  head.writeUInt32LE(header.length, MAGIC.length);
  header.copy(head, MAGIC.length + 4);
  const fh = await open(path, "w");
  try {
    let position = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      for (let at = 0; at < bytes.length; at += CHUNK) {
        const part = bytes.subarray(at, Math.min(bytes.length, at + CHUNK));
        let done = 0;
        while (done < part.length) done += (await fh.write(part, done, part.length - done, position + done)).bytesWritten;
        position += part.length;
      }
    };
    await put(head);
    const zeros = new Uint8Array(8);
    for (const arr of Object.values(arrays)) {
      await put(bytesOf(arr));
      await put(zeros.subarray(0, padTo8(arr.byteLength) - arr.byteLength));
    }
    const trailer = Buffer.alloc(CRC_BYTES);
    trailer.writeUInt32LE(crcOf(head));
    await put(trailer);
  } finally {
    await fh.close();
  }
}

export interface StateFile {
  meta: unknown;
  /** every array not deferred */
  arrays: Record<string, TypedArray>;
  /**
   * reads the deferred arrays, or those of them named (StateFileError if the file changed or
   * they are damaged)
   */
  readDeferred(names?: readonly string[]): Promise<Record<string, TypedArray>>;
  /**
   * Parts of deferred arrays (elements [from, to) of each), unchecked, through one opening of
   * the file (StateFileError if the file changed, an array is unknown or a range is outside it).
   */
  readSlices(parts: readonly { name: string; from: number; to: number }[]): Promise<TypedArray[]>;
}

/**
 * Reads a file written by writeStateFile; StateFileError when it is not one, truncated or
 * corrupted. Arrays for which `defer(name)` is true are read by `readDeferred()`.
 */
export async function readStateFile(path: string, defer: (name: string) => boolean = () => false): Promise<StateFile> {
  const fh = await open(path, "r");
  let head: Buffer;
  let header: { meta: unknown; arrays: ArrayEntry[] };
  let identity: string;
  const arrays: Record<string, TypedArray> = {};
  try {
    identity = await identityOf(fh);
    ({ head, header } = await readHead(fh));
    for (const e of header.arrays) if (!defer(e.name)) arrays[e.name] = await readArray(fh, head.length, e);
  } finally {
    await fh.close();
  }
  const later = header.arrays.filter((e) => defer(e.name));
  /**
   * runs `fn` on the file opened again, after checking that it is still the one opened: the
   * same file (device, inode), size, times and header checksum. (Not the header itself: at a
   * million cells it holds tens of megabytes of barcodes, too much to read again per row.)
   */
  const again = async <T,>(fn: (fh: FileHandle) => Promise<T>): Promise<T> => {
    const fh = await open(path, "r");
    try {
      if (await identityOf(fh) !== identity) throw new StateFileError("the file changed since it was opened");
      return await fn(fh);
    } finally {
      await fh.close();
    }
  };
  return {
    meta: header.meta,
    arrays,
    readDeferred: (names) => again(async (fh) => {
      const out: Record<string, TypedArray> = {};
      for (const e of later) if (!names || names.includes(e.name)) out[e.name] = await readArray(fh, head.length, e);
      return out;
    }),
    readSlices: (parts) => {
      const found: { e: ArrayEntry; from: number; to: number }[] = [];
      for (const { name, from, to } of parts) {
        const e = later.find((x) => x.name === name);
        if (!e) return Promise.reject(new StateFileError(`no deferred array ${name}`));
        if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= e.length)) {
          return Promise.reject(new StateFileError(`array ${name}: range ${from}..${to} outside 0..${e.length}`));
        }
        found.push({ e, from, to });
      }
      return again(async (fh) => {
        const out: TypedArray[] = [];
        for (const { e, from, to } of found) {
          const Ctor = CTORS[e.type];
          const part = new Ctor(to - from);
          await readFully(fh, new Uint8Array(part.buffer), head.length + e.offset + from * Ctor.BYTES_PER_ELEMENT);
          out.push(part);
        }
        return out;
      });
    },
  };
}

/** The file's device, inode, size, modification and change times (ns) and header checksum, as one string. */
async function identityOf(fh: FileHandle): Promise<string> {
  const st = await fh.stat({ bigint: true });
  const trailer = Buffer.alloc(CRC_BYTES);
  if (st.size >= CRC_BYTES) await readFully(fh, trailer, Number(st.size) - CRC_BYTES);
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs, trailer.readUInt32LE()].join(":");
}

/** The magic, header and padding (checked against the trailer's CRC-32) and the parsed header. */
async function readHead(fh: FileHandle): Promise<{ head: Buffer; header: { meta: unknown; arrays: ArrayEntry[] } }> {
  const size = (await fh.stat()).size;
  if (size < MAGIC.length + 4 + CRC_BYTES) throw new StateFileError("not a cellworker state file");
  const start = Buffer.alloc(MAGIC.length + 4);
  await readFully(fh, start, 0);
  const magic = start.subarray(0, MAGIC.length);
  if (OLD_MAGICS.some((m) => m.equals(magic))) throw new StateFileError("an older cache format");
  if (!magic.equals(MAGIC)) throw new StateFileError("not a cellworker state file");
  const headerLength = start.readUInt32LE(MAGIC.length);
  const dataStart = padTo8(MAGIC.length + 4 + headerLength);
  if (dataStart > size - CRC_BYTES) throw new StateFileError("header runs past the end of the file");
  const head = Buffer.alloc(dataStart);
  await readFully(fh, head, 0);
  const trailer = Buffer.alloc(CRC_BYTES);
  await readFully(fh, trailer, size - CRC_BYTES);
  if (trailer.readUInt32LE() !== crcOf(head)) throw new StateFileError("header checksum mismatch (file truncated or corrupted)");
  const header = JSON.parse(head.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength).toString("utf8")) as { meta: unknown; arrays: ArrayEntry[] };
  let end = 0;
  for (const e of header.arrays) {
    const Ctor = CTORS[e.type];
    if (!Ctor) throw new StateFileError(`unknown array type ${e.type}`);
    end = Math.max(end, dataStart + e.offset + e.length * Ctor.BYTES_PER_ELEMENT);
  }
  if (end > size - CRC_BYTES) throw new StateFileError("an array runs past the end of the file (file truncated)");
  return { head, header };
}

async function readArray(fh: FileHandle, dataStart: number, e: ArrayEntry): Promise<TypedArray> {
  const out = new CTORS[e.type](e.length);
  const bytes = new Uint8Array(out.buffer);
  await readFully(fh, bytes, dataStart + e.offset);
  if (crcOf(bytes) !== e.crc) throw new StateFileError(`array ${e.name}: checksum mismatch (file corrupted)`);
  return out;
}

/** Fills `into` from the file at `position`, in chunks. */
async function readFully(fh: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < into.length; at += CHUNK) {
    const part = into.subarray(at, Math.min(into.length, at + CHUNK));
    let done = 0;
    while (done < part.length) {
      const { bytesRead } = await fh.read(part, done, part.length - done, position + at + done);
      if (bytesRead === 0) throw new StateFileError("file truncated");
      done += bytesRead;
    }
  }
}
