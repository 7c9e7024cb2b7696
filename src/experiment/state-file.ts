/**
 * A small versioned binary container for typed arrays plus a JSON header:
 *
 *   "CWSTATE\n" | u32 header length | header JSON | zero padding to 8 bytes | array bytes … |
 *   32-byte SHA-256 of everything before it
 *
 * The header lists each array's name, type, byte offset and length. Reading verifies the
 * magic, the lengths and the checksum, so a truncated or corrupted file is rejected, never
 * half-trusted.
 */
import { createHash } from "node:crypto";

const MAGIC = Buffer.from("CWSTATE\n", "latin1");

type TypedArray = Float64Array | Float32Array | Int32Array | Uint8Array;
const CTORS = { Float64Array, Float32Array, Int32Array, Uint8Array } as const;
type TypeName = keyof typeof CTORS;

interface ArrayEntry { name: string; type: TypeName; offset: number; length: number }

export class StateFileError extends Error {}

export function encodeStateFile(meta: unknown, arrays: Record<string, TypedArray>): Buffer {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(arrays)) {
    entries.push({ name, type: arr.constructor.name as TypeName, offset, length: arr.length });
    offset += Math.ceil(arr.byteLength / 8) * 8;
  }
  const header = Buffer.from(JSON.stringify({ meta, arrays: entries }), "utf8");
  const headerPadded = Math.ceil((MAGIC.length + 4 + header.length) / 8) * 8;
  const body = Buffer.alloc(headerPadded + offset);
  MAGIC.copy(body, 0);
  body.writeUInt32LE(header.length, MAGIC.length);
  header.copy(body, MAGIC.length + 4);
  for (const e of entries) {
    const arr = arrays[e.name]!;
    Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(body, headerPadded + e.offset);
  }
  const digest = createHash("sha256").update(body).digest();
  return Buffer.concat([body, digest]);
}

export function decodeStateFile(buf: Buffer): { meta: unknown; arrays: Record<string, TypedArray> } {
  if (buf.length < MAGIC.length + 4 + 32 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new StateFileError("not a cellworker state file");
  const body = buf.subarray(0, buf.length - 32);
  const digest = createHash("sha256").update(body).digest();
  if (!digest.equals(buf.subarray(buf.length - 32))) throw new StateFileError("checksum mismatch (file truncated or corrupted)");
  const headerLength = body.readUInt32LE(MAGIC.length);
  const header = JSON.parse(body.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength).toString("utf8")) as { meta: unknown; arrays: ArrayEntry[] };
  const start = Math.ceil((MAGIC.length + 4 + headerLength) / 8) * 8;
  const arrays: Record<string, TypedArray> = {};
  for (const e of header.arrays) {
    const Ctor = CTORS[e.type];
    if (!Ctor) throw new StateFileError(`unknown array type ${e.type}`);
    const byteStart = start + e.offset;
    const byteLength = e.length * Ctor.BYTES_PER_ELEMENT;
    if (byteStart + byteLength > body.length) throw new StateFileError(`array ${e.name} runs past the end of the file`);
    // copy into a fresh, aligned buffer owned by the array
    const out = new Ctor(e.length);
    new Uint8Array(out.buffer).set(body.subarray(byteStart, byteStart + byteLength));
    arrays[e.name] = out;
  }
  return { meta: header.meta, arrays };
}
