/**
 * Entry point of the compute thread: it opens the experiment (reading and preprocessing run
 * here, off the main thread) and runs tasks on it, posting progress as it goes. The main
 * thread stays free for queue bookkeeping and can terminate this thread when a task runs past
 * its time limit, which also releases all of the task's memory.
 */
import { parentPort } from "node:worker_threads";
import { openExperiment } from "../experiment/open.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { runTask } from "./run-task.ts";
import { toFailure } from "../result/errors.ts";
import type { FileOnDisk, FromThread, ToThread } from "./protocol.ts";
import { isFileResult } from "../result/file-result.ts";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const port = parentPort;
if (!port) throw new Error("compute/thread.ts must run in a worker thread");
const post = (m: FromThread): void => port.postMessage(m);
const log = (message: string, fields?: Record<string, unknown>): void => post({ type: "log", message, ...(fields ? { fields } : {}) });

let experiment: Experiment | null = null;

port.on("message", (msg: ToThread) => {
  void handle(msg);
});

async function handle(msg: ToThread): Promise<void> {
  if (msg.type === "open") {
    try {
      experiment = await openExperiment({ ...msg.spec, log, background: true });
      post({ type: "opened", nCells: experiment.nCells, nGenes: experiment.nGenes, cellSets: experiment.cellSets });
    } catch (err) {
      const f = toFailure(err);
      if (f.code === "WORKER_ERROR") log("experiment failed to load", { error: String((err as Error)?.stack ?? err) });
      post({ type: "open-failed", code: f.code, message: f.message });
    }
    return;
  }
  const exp = experiment;
  if (!exp) {
    post({ type: "result", id: msg.id, result: { ok: false, code: "WORKER_ERROR", message: "The experiment is not loaded." }, cellSets: null });
    return;
  }
  if (msg.cellSets) exp.cellSets = msg.cellSets;
  const before = exp.cellSets;
  let lastPost = 0;
  const result = await runTask(
    exp,
    {
      body: msg.body,
      pagination: msg.pagination,
      ...(msg.limits ? { limits: msg.limits } : {}),
      progress: (fraction) => {
        const now = Date.now();
        if (now - lastPost >= 250 || fraction >= 1) { lastPost = now; post({ type: "progress", id: msg.id, fraction }); }
      },
    },
    (err) => log("task failed unexpectedly", { task: msg.body.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
  const cellSets = exp.cellSets !== before ? exp.cellSets : null;
  if (result.ok && isFileResult(result.data)) {
    // streamed to disk here, where the data lives; the host hands the path to the publisher
    const file = result.data;
    const path = join(msg.fileDir, `result-${process.pid}-${msg.id}`);
    try {
      await mkdir(msg.fileDir, { recursive: true });
      await pipeline(file.open(), createWriteStream(path));
    } catch (err) {
      await rm(path, { force: true });
      log("writing the file result failed", { task: msg.body.name, error: String((err as Error)?.message ?? err) });
      post({ type: "result", id: msg.id, result: { ok: false, code: "WORKER_ERROR", message: "An unexpected error occurred while performing the work." }, cellSets });
      return;
    }
    const onDisk: FileOnDisk = { path, contentType: file.contentType, contentEncoding: file.contentEncoding };
    post({ type: "result", id: msg.id, result: { ok: true, data: null, cacheable: result.cacheable, ...(result.effect ? { effect: result.effect } : {}) }, cellSets, file: onDisk });
    return;
  }
  post({ type: "result", id: msg.id, result, cellSets });
}
