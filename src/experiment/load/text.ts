/**
 * Reading (optionally gzipped) text files line by line, with errors that name the file.
 *
 * Every reader is capped, so a small gzip file that unpacks to gigabytes (or a file with no line
 * breaks) is refused after reading at most the cap, never held in memory: a line may be at most
 * MAX_LINE_BYTES, and each kind of file at most its TEXT_LIMITS size once unpacked (the matrix's
 * cap is relative to the entries its size line declares, see tenx-mtx.ts).
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";
import { dataInvalid, ErrorCode, WorkerError } from "../../result/errors.ts";

const MiB = 1024 * 1024;

/** Longest line any text reader accepts (a CSV row of a few thousand columns fits easily). */
export const MAX_LINE_BYTES = 1 * MiB;

export interface TextLimit {
  /** "barcodes file": what the file is, for messages */
  what: string;
  /** most bytes read (after gunzipping) */
  maxBytes: number;
  /** longest line, in bytes */
  maxLineBytes: number;
  /** most lines (when the file's length is known from elsewhere, e.g. the matrix's size line) */
  maxLines?: number;
  /** why there can be no more lines: "matrix.mtx.gz has 80 columns" */
  maxLinesReason?: string;
}

/**
 * Per kind of file. Real sizes: a 1M-cell barcodes.tsv is ~20 MiB; features.tsv ~2 MiB for 36k
 * genes (a few hundred thousand ATAC peaks ~20 MiB); annotations.csv ~100 bytes a cell.
 */
export const TEXT_LIMITS = {
  barcodes: { what: "barcodes file", maxBytes: 128 * MiB, maxLineBytes: MAX_LINE_BYTES },
  features: { what: "features file", maxBytes: 64 * MiB, maxLineBytes: MAX_LINE_BYTES },
  annotations: { what: "annotations file", maxBytes: 512 * MiB, maxLineBytes: MAX_LINE_BYTES },
} as const satisfies Record<string, TextLimit>;

/** "256 MiB", "1 MiB", "300 KiB" */
export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`;
}

/** DATA_UNSUPPORTED: the file is longer (once unpacked) than the limit for its kind. */
export function tooLarge(path: string, maxBytes: number, what: string): WorkerError {
  const unpacked = path.endsWith(".gz") ? " once unpacked" : "";
  return new WorkerError(ErrorCode.DATA_UNSUPPORTED, `${path}: larger than ${formatBytes(maxBytes)}${unpacked}, the most this worker reads for a ${what}`);
}

/** DATA_INVALID: line `line` (1-based) is longer than `maxLineBytes`. */
export function lineTooLong(path: string, line: number, maxLineBytes: number): WorkerError {
  return dataInvalid(`${path}: line ${line} is longer than ${formatBytes(maxLineBytes)}, the longest line this worker reads`);
}

/** Bytes a read or unpacked chunk holds: 1 MiB chunks unpack a large gzipped matrix about twice as fast as the default 16 KiB. */
const CHUNK_BYTES = 1 << 20;

/** Byte chunks of a file, gunzipped when its name ends in `.gz`. Stopping early closes the file. */
export function readChunks(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  if (!path.endsWith(".gz")) return raw;
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  raw.on("error", (e) => gunzip.destroy(e));
  gunzip.on("close", () => raw.destroy());
  return raw.pipe(gunzip) as Readable;
}

/** Turns a stream failure into a one-line user error naming the file. */
export function readFailure(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "Z_BUF_ERROR" || /unexpected end of file/i.test(e?.message ?? "")) {
    return dataInvalid(`${path}: the gzip stream is truncated (unexpected end of file)`);
  }
  if (e?.code === "Z_DATA_ERROR" || e?.errno === -3) return dataInvalid(`${path}: not valid gzip data (${e.message})`);
  if (e?.code === "EACCES") return dataInvalid(`${path}: permission denied`);
  return dataInvalid(`${path}: could not be read (${e?.message ?? String(err)})`);
}

/**
 * All lines of a text file (a trailing empty line dropped; CRLF accepted), reading at most
 * `limit.maxBytes` (DATA_UNSUPPORTED past it), lines of at most `limit.maxLineBytes` and at
 * most `limit.maxLines` lines (DATA_INVALID past them). Lines are decoded one at a time: the
 * file never exists as one string, and reading stops at the first limit passed.
 */
export async function readLines(path: string, limit: TextLimit): Promise<string[]> {
  const lines: string[] = [];
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let total = 0;
  const maxLines = limit.maxLines ?? Infinity;
  const finish = (): void => {
    if (lines.length >= maxLines) {
      throw dataInvalid(`${path}: has more than ${maxLines} lines${limit.maxLinesReason ? `, but ${limit.maxLinesReason}` : ""}`);
    }
    const bytes = partial.length === 1 ? partial[0]! : Buffer.concat(partial, partialBytes);
    const text = bytes.toString("utf8");
    lines.push(text.endsWith("\r") ? text.slice(0, -1) : text);
    partial = [];
    partialBytes = 0;
  };
  try {
    for await (const chunk of readChunks(path)) {
      total += chunk.length;
      if (total > limit.maxBytes) throw tooLarge(path, limit.maxBytes, limit.what);
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const end = nl === -1 ? chunk.length : nl;
        partialBytes += end - start;
        if (partialBytes > limit.maxLineBytes) throw lineTooLong(path, lines.length + 1, limit.maxLineBytes);
        if (end > start) partial.push(chunk.subarray(start, end));
        if (nl === -1) break;
        finish();
        start = nl + 1;
      }
    }
  } catch (err) {
    if (err instanceof WorkerError) throw err;
    throw readFailure(path, err);
  }
  if (partialBytes > 0) finish();
  return lines;
}

/** Splits one CSV line (RFC 4180 quoting). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') { cur += '"'; i++; } else quoted = false;
      } else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { out.push(cur); cur = ""; }
    else cur += ch;
  }
  out.push(cur);
  return out;
}
