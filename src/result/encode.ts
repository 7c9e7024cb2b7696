/**
 * Size policy of the 2021 protocol (reference spec §2.10): a response whose serialised size
 * would reach 80 % of SNS's 256 KiB limit has every result body offloaded to S3.
 */
import type { WorkResponse } from "./response.ts";

export const SNS_LIMIT_BYTES = 262_144;
export const OFFLOAD_THRESHOLD_BYTES = Math.floor(0.8 * SNS_LIMIT_BYTES);

export function needsOffload(response: WorkResponse): boolean {
  return Buffer.byteLength(JSON.stringify(response)) >= OFFLOAD_THRESHOLD_BYTES;
}
