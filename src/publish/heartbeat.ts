/**
 * `Heartbeat-{experimentId}` status updates (reference spec §2.9.4). The UI extends its request
 * timeout on every heartbeat and shows `user_message`; `progress_percent` is set by long
 * computations (UMAP/t-SNE, differential expression) and is null otherwise.
 */
export const StatusCode = {
  DOWNLOAD_EXPERIMENT: "DOWNLOAD_EXPERIMENT",
  LOAD_TO_MEMORY: "LOAD_TO_MEMORY",
  STARTED_TASK: "STARTED_TASK",
  COMPRESSING_DATA: "COMPRESSING_DATA",
  UPLOADING_DATA: "UPLOADING_DATA",
  FINISHED_TASK: "FINISHED_TASK",
} as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

export interface Heartbeat {
  type: "WorkResponse";
  status_code: StatusCode;
  user_message: string;
  progress_percent: number | null;
}

/** Progress heartbeats of one task are sent at most this often. */
export const PROGRESS_INTERVAL_MS = 2_000;

/**
 * A task name as the original shows it: every "Get" removed, words split at camel-case
 * boundaries keeping acronyms together ("CASSIAAnnotate" → "CASSIA Annotate").
 */
export function taskDisplayName(name: string): string {
  return name
    .slice(0, 100)
    .replace(/Get/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .trim();
}

export function heartbeat(code: StatusCode, taskName: string | null, progressPercent: number | null = null): Heartbeat {
  const task = taskName === null ? "" : taskDisplayName(taskName);
  const message: Record<StatusCode, string> = {
    DOWNLOAD_EXPERIMENT: "Accessing the Seurat object for your analysis",
    LOAD_TO_MEMORY: "Accessing the Seurat object for your analysis",
    STARTED_TASK: `Working on the requested task ${task}`,
    COMPRESSING_DATA: `Compressing the results for the requested task ${task}`,
    UPLOADING_DATA: `Finalizing results for the requested task ${task}`,
    FINISHED_TASK: `Displaying results for the requested task ${task}`,
  };
  return { type: "WorkResponse", status_code: code, user_message: message[code], progress_percent: progressPercent };
}

/**
 * A task's progress callback (fraction in [0, 1]) that sends `STARTED_TASK` heartbeats with
 * the percentage, at most once per `intervalMs` (the first one at once) and only when the
 * percentage moved forward.
 */
export function progressReporter(send: (percent: number) => void, intervalMs = PROGRESS_INTERVAL_MS, now: () => number = Date.now): (fraction: number) => void {
  let lastAt = -Infinity;
  let lastPercent = -1;
  return (fraction: number) => {
    if (!Number.isFinite(fraction)) return;
    const percent = Math.round(100 * Math.min(1, Math.max(0, fraction)));
    const t = now();
    if (percent <= lastPercent || t - lastAt < intervalMs) return;
    lastAt = t;
    lastPercent = percent;
    send(percent);
  };
}
