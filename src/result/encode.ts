/**
 * Result encodings.
 * - 2021 protocol (reference spec §2.10): a response whose serialised size would reach 80 % of
 *   SNS's 256 KiB limit has every result body offloaded to S3.
 * - Current protocol (§2.9.2): the result is serialised (JSON; bytes as they are), compressed
 *   with zstd level 3 (a standard frame, magic 28 B5 2F FD) and stored under its ETag; when
 *   the compressed bytes are at most 250,000 they are also pushed inline over the socket as a
 *   base64 string.
 */
import { promisify } from "node:util";
import { constants, zstdCompress } from "node:zlib";
import type { WorkResponse } from "./response.ts";

export const SNS_LIMIT_BYTES = 262_144;
export const OFFLOAD_THRESHOLD_BYTES = Math.floor(0.8 * SNS_LIMIT_BYTES);

/** Largest compressed result sent inline over the socket (`250 * 1000` in the original). */
export const INLINE_LIMIT_BYTES = 250_000;
export const ZSTD_LEVEL = 3;

export function needsOffload(response: WorkResponse): boolean {
  return Buffer.byteLength(JSON.stringify(response)) >= OFFLOAD_THRESHOLD_BYTES;
}

/** Result data as bytes: already-serialised bytes unchanged, anything else as JSON (NaN → null). */
export function serializeResult(data: unknown): Buffer {
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(JSON.stringify(data) ?? "null", "utf8");
}

const zstd = promisify(zstdCompress);

/** zstd level 3, off the main thread (results can be tens of megabytes). */
export function compressResult(bytes: Uint8Array): Promise<Buffer> {
  return zstd(bytes, { params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
}
