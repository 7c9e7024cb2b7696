/**
 * The one retry helper: run a step until it succeeds, pausing between attempts with doubling
 * backoff, for as long as the caller's rule allows. Used for the queue (finding it, deleting a
 * message), the request pipeline (loading the experiment and publishing while the
 * infrastructure fails transiently) and the Cellenics API (cell-set PATCHes).
 */

export interface Backoff {
  /** pause before the second attempt, ms */
  initialMs: number;
  /** longest pause, ms */
  maxMs: number;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", done); resolve(); }, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Doubling pauses from `initialMs` up to `maxMs`; `reset` starts over. */
export class BackoffTimer {
  private readonly backoff: Backoff;
  private current: number;
  constructor(backoff: Backoff) {
    this.backoff = backoff;
    this.current = backoff.initialMs;
  }
  /** the pause to take now; the next one is twice as long (at most maxMs) */
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.backoff.maxMs, this.current * 2);
    return delay;
  }
  reset(): void {
    this.current = this.backoff.initialMs;
  }
}

export interface RetryOptions {
  backoff: Backoff;
  /**
   * Whether to try again after `err` failed attempt number `attempt`, given the pause that
   * would come first. Return false to give up: the last error is thrown.
   */
  retryIf(err: unknown, attempt: number, delayMs: number): boolean;
  /** told of each retry before its pause */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
  /** cuts a pause short and ends the retries (the last error is thrown) */
  signal?: AbortSignal;
  /**
   * No attempt after this instant (ms since the epoch): a pause that would end later is cut to
   * end at it, so the last attempt is made at the deadline rather than given up early.
   */
  deadline?: number;
}

/** Runs `step` until it succeeds or `retryIf` says stop; resolves with its value and the attempt count. */
export async function retry<T>(step: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<{ value: T; attempts: number }> {
  const timer = new BackoffTimer(opts.backoff);
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await step(attempt), attempts: attempt };
    } catch (err) {
      const remaining = (opts.deadline ?? Infinity) - Date.now();
      if (remaining <= 0) throw err;
      const delay = Math.min(timer.next(), remaining);
      if (!opts.retryIf(err, attempt, delay)) throw err;
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw err; // stopped during the pause: no further attempt
    }
  }
}
