/**
 * Where responses go. Implementations: SNS + S3 offload (2021 protocol), stdout (CLI).
 */
import type { WorkResponse } from "../result/response.ts";

export interface Publisher {
  /** Sends one WorkResponse; `requestId` (uuid or ETag) names offloaded objects. Throws when it could not. */
  publish(response: WorkResponse, requestId: string): Promise<void>;
}
