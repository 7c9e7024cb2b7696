/**
 * Reading (optionally gzipped) text files line by line, with errors that name the file.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { Readable } from "node:stream";
import { dataInvalid } from "../../result/errors.ts";

/** Byte chunks of a file, gunzipped when its name ends in `.gz`. */
export function readChunks(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path);
  if (!path.endsWith(".gz")) return raw;
  const gunzip = createGunzip();
  raw.on("error", (e) => gunzip.destroy(e));
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

/** All lines of a text file (trailing empty line dropped). */
export async function readLines(path: string): Promise<string[]> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of readChunks(path)) parts.push(chunk);
  } catch (err) {
    throw readFailure(path, err);
  }
  const text = Buffer.concat(parts).toString("utf8");
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
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
