/**
 * Experiment assignment of a pod in today's Cellenics (reference spec §2.1.1, §2.2): pods start
 * unassigned; the API labels one with `experimentId` and `workQueueHash` (and the chart gives
 * `sandboxId`). The labels reach the container through the Kubernetes downward API as a file
 * (`/etc/podinfo/labels`, one `key="value"` per line) that changes in place, so it is re-read
 * until the experiment id appears. A label that is missing falls back to the environment
 * variable of the same name in UPPER_SNAKE case (`experimentId` → `EXPERIMENT_ID`).
 */
import { readFileSync } from "node:fs";
import { labelOrEnv } from "../config.ts";
import { sleep } from "../retry.ts";


/** `key="value"` lines (downward-API format; unquoted values and blank lines tolerated). */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string; // the downward API escapes like Go's %q
      } catch {
        value = value.slice(1, -1);
      }
    }
    if (key) out[key] = value;
  }
  return out;
}

/** The labels file's labels; none when it does not exist or cannot be read. */
export function readLabels(path: string): Record<string, string> {
  try {
    return parseLabels(readFileSync(path, "utf8"));
  } catch {
    return {};
  }
}


/**
 * Re-reads the labels file every `pollMs` until an experiment id is assigned (label or
 * `EXPERIMENT_ID`); resolves with the labels then, or null when `signal` aborts first.
 */
export async function waitForAssignment(opts: {
  file: string; env: NodeJS.ProcessEnv; pollMs: number; signal: AbortSignal; onWaiting?: () => void;
}): Promise<Record<string, string> | null> {
  let told = false;
  while (!opts.signal.aborted) {
    const labels = readLabels(opts.file);
    if (labelOrEnv(labels, opts.env, "experimentId")) return labels;
    if (!told) {
      told = true;
      opts.onWaiting?.();
    }
    await sleep(opts.pollMs, opts.signal);
  }
  return null;
}
