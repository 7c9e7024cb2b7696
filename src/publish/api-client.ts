/**
 * The one call the worker makes to the Cellenics API: saving cell sets
 * (`PATCH {apiUrl}/v2/experiments/{experimentId}/cellSets`, reference spec §3.4) with the
 * json-merger content type and the requesting user's `Authorization`.
 *
 * Unlike the original (which ignored the answer), a network failure, a time-out or a non-2xx
 * answer is retried with doubling backoff and then reported as `CellSetsUpdateError`, which the
 * worker turns into an error result for the user.
 */
import type { MergePatch } from "./cell-set-patch.ts";
import { retry } from "../retry.ts";

export class CellSetsUpdateError extends Error {
  override name = "CellSetsUpdateError";
  /** the last HTTP status, or null when the API could not be reached */
  readonly status: number | null;
  readonly attempts: number;
  constructor(message: string, status: number | null, attempts: number) {
    super(message);
    this.status = status;
    this.attempts = attempts;
  }
}

export interface ApiClientOptions {
  baseUrl: string;
  /** total attempts of one call (>= 1) */
  attempts: number;
  /** delay before the second attempt; doubles for each later one */
  backoffMs: number;
  /** per attempt */
  timeoutMs: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export const MERGE_CONTENT_TYPE = "application/boschni-json-merger+json";

export class CellenicsApi {
  private readonly opts: ApiClientOptions;
  constructor(opts: ApiClientOptions) {
    this.opts = opts;
  }

  cellSetsUrl(experimentId: string): string {
    return `${this.opts.baseUrl}/v2/experiments/${encodeURIComponent(experimentId)}/cellSets`;
  }

  async patchCellSets(experimentId: string, authorization: string, patch: MergePatch): Promise<void> {
    const url = this.cellSetsUrl(experimentId);
    const body = JSON.stringify(patch);
    const attempts = Math.max(1, this.opts.attempts);
    let status: number | null = null;
    try {
      await retry(async () => {
        status = null;
        let res: Response;
        try {
          res = await fetch(url, {
            method: "PATCH",
            headers: { "content-type": MERGE_CONTENT_TYPE, authorization },
            body,
            signal: AbortSignal.timeout(this.opts.timeoutMs),
          });
        } catch (err) {
          const e = err as Error;
          throw new Error(e.name === "TimeoutError" ? `the API did not answer within ${this.opts.timeoutMs} ms` : `the API could not be reached (${causeOf(e)})`);
        }
        status = res.status;
        await res.arrayBuffer().catch(() => undefined); // drain; the answer's body is not used
        if (!res.ok) throw new Error(`the API answered ${res.status}`);
      }, {
        backoff: { initialMs: this.opts.backoffMs, maxMs: Number.MAX_SAFE_INTEGER },
        retryIf: (_err, attempt) => attempt < attempts,
        onRetry: (err, attempt) => this.opts.log?.("cell-set update failed", { experimentId, attempt, of: attempts, reason: (err as Error).message }),
      });
    } catch (err) {
      const reason = (err as Error).message;
      this.opts.log?.("cell-set update failed", { experimentId, attempt: attempts, of: attempts, reason });
      throw new CellSetsUpdateError(`${reason} (${attempts} ${attempts === 1 ? "attempt" : "attempts"})`, status, attempts);
    }
  }
}

/** fetch wraps network errors as "fetch failed"; the cause says what happened (ECONNREFUSED…). */
function causeOf(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
