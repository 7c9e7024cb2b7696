/**
 * Keeps a received message invisible to other workers while this one holds it: its visibility
 * is extended every third of the visibility timeout until `stop`, which comes before the
 * message is deleted or handed back.
 */
import type { Delivery } from "../transport/transport.ts";
import type { Logger } from "../log.ts";

export interface VisibilityKeeper {
  stop(): void;
}

export function keepInvisible(delivery: Delivery, visibilityTimeoutS: number, log: Logger): VisibilityKeeper {
  const every = Math.max(1000, (visibilityTimeoutS * 1000) / 3);
  const timer = setInterval(() => {
    delivery.extend(visibilityTimeoutS).catch((err: Error) => log("visibility extension failed", { error: err.message }));
  }, every);
  return { stop: () => clearInterval(timer) };
}
