/**
 * Where 2021-protocol responses go (the current protocol's publisher is publish/current.ts).
 */
import type { TaskResult } from "../result/response.ts";

export interface Publisher {
  /**
   * Sends the WorkResponse for one request's result; `requestId` (the uuid) names offloaded
   * objects. File results (e.g. the normalized-matrix CSV) always travel as `s3-path`.
   * Throws when it could not publish.
   */
  publishResult(request: unknown, result: TaskResult, requestId: string): Promise<void>;
}
