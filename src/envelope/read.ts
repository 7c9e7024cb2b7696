/**
 * Reading a request from a file or a stream (stdin) with the size cap applied while reading:
 * at most `maxBytes + 1` bytes are read (the extra byte tells a request just at the limit from
 * a larger one), and a regular file larger than the cap is refused from its size without
 * reading it. Errors are one-line INVALID_INPUT WorkerErrors; the bytes go to
 * `parseRequestText` (envelope/parse.ts), which applies the cap again and handles a BOM.
 */
import { open, type FileHandle } from "node:fs/promises";
import { invalidInput, WorkerError } from "../result/errors.ts";

const CHUNK_BYTES = 64 * 1024;

const tooLarge = (what: string, maxBytes: number): WorkerError => invalidInput(`${what}request is larger than the limit of ${maxBytes} bytes`);

/** The bytes of the request file at `path`; INVALID_INPUT when it is larger than `maxBytes` or cannot be read. */
export async function readRequestFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(path, "r");
    const stat = await handle.stat();
    if (stat.isFile() && stat.size > maxBytes) throw tooLarge(`${path}: `, maxBytes);
    // regular files can grow while read, devices and pipes have no size: read in chunks up to the cap
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const want = Math.min(CHUNK_BYTES, maxBytes + 1 - total);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(chunk, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > maxBytes) throw tooLarge(`${path}: `, maxBytes);
    return Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof WorkerError) throw err;
    throw invalidInput(`${path}: cannot read the request (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** A stream that can be told to stop (a Readable, process.stdin). */
type Source = AsyncIterable<Uint8Array | string> & { destroy?: () => unknown };

/**
 * The bytes of a request read from `stream` (e.g. stdin); reading stops, the stream is
 * destroyed and INVALID_INPUT thrown as soon as more than `maxBytes` arrived.
 */
export async function readRequestStream(stream: Source, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const chunk = typeof c === "string" ? Buffer.from(c, "utf8") : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    total += chunk.length;
    if (total > maxBytes) {
      stream.destroy?.();
      throw tooLarge("", maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
