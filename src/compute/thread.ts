/**
 * Entry point of the compute thread: it opens the experiment (reading and preprocessing run
 * here, off the main thread) and runs tasks on it, posting progress as it goes. The main
 * thread stays free for queue bookkeeping and can terminate this thread when a task runs past
 * its time limit, which also releases all of the task's memory.
 */
import { parentPort } from "node:worker_threads";
import { openExperiment } from "../experiment/open.ts";
import type { Experiment } from "../experiment/experiment.ts";
import { runTask } from "./host.ts";
import { toFailure } from "../result/errors.ts";
import type { FromThread, ToThread } from "./protocol.ts";

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
      experiment = await openExperiment({ ...msg.spec, log });
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
      progress: (fraction) => {
        const now = Date.now();
        if (now - lastPost >= 250 || fraction >= 1) { lastPost = now; post({ type: "progress", id: msg.id, fraction }); }
      },
    },
    (err) => log("task failed unexpectedly", { task: msg.body.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
  post({ type: "result", id: msg.id, result, cellSets: exp.cellSets !== before ? exp.cellSets : null });
}
