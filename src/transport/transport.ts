/**
 * Where requests come from. A Delivery is one received message: its bytes plus the three
 * things the worker may do with it. Nothing here knows about envelopes or tasks.
 */
export interface Delivery {
  id: string;
  body: string;
  /** how many times the queue has handed this message out (1 on first delivery) */
  receiveCount: number;
  /** done with it: delete it from the queue (only after its response is published) */
  ack(): Promise<void>;
  /** hand it back (visibility 0: now, e.g. on shutdown; or visible again after `delaySeconds`) */
  release(delaySeconds?: number): Promise<void>;
  /** keep it invisible for `seconds` more while it is worked on */
  extend(seconds: number): Promise<void>;
}

export interface Transport {
  /** waits (long poll) for the next message; null when none arrived or `signal` aborted */
  receive(signal: AbortSignal): Promise<Delivery | null>;
}
