/**
 * A request answered on this machine, with no queue: the command line (`cellworker run`), the
 * demo and the fuzzer. The request goes through the same pipeline as in `serve` (request.ts),
 * with the command line's policy (any experiment, expired requests still run, no poison
 * count, no retries) and its publisher (stdout or a file). The experiment is opened only when
 * the request gets as far as computing; tasks run in-process.
 */
import type { Experiment } from "../experiment/experiment.ts";
import { runTask, taskNamed } from "../compute/run-task.ts";
import { StdoutPublisher } from "../publish/stdout.ts";
import type { WorkResponse } from "../result/response.ts";
import type { Limits } from "../config.ts";
import type { Logger } from "../log.ts";
import { handleMessage, type ExperimentSource, type Outcome } from "./request.ts";

export interface LocalOptions {
  limits: Limits;
  /** problems (a task failing unexpectedly, a response that could not be written) */
  log?: Logger;
  /** the pipeline's bookkeeping (task started, request done, refusals); default: none */
  trace?: Logger;
  /** where the response (or a file result) is written; default: `write` */
  out?: string | null;
  /** where the response JSON line goes when there is no `out` (default: stdout) */
  write?: (text: string) => void;
}

export interface LocalAnswer {
  outcome: Outcome;
  /** the response sent; null when none could be written */
  response: WorkResponse | null;
  /** the experiment, if the request needed it (its cell sets include the task's changes) */
  experiment: Experiment | null;
}

export async function answerLocally(text: string, open: () => Promise<Experiment>, opts: LocalOptions): Promise<LocalAnswer> {
  const log = opts.log ?? (() => {});
  let experiment: Experiment | null = null;
  const experiments: ExperimentSource = {
    get: async () => {
      const exp = experiment ?? (experiment = await open());
      const before = exp.cellSets;
      return {
        run: (input) => runTask(exp, input, (err) => log("task failed unexpectedly", { task: input.body.name, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })),
        revertCellSets: () => { exp.cellSets = before; },
      };
    },
  };
  const publisher = new StdoutPublisher({ out: opts.out ?? null, ...(opts.write ? { write: opts.write } : {}) });
  const noop = async (): Promise<void> => {};
  const outcome = await handleMessage({ id: "local", body: text, receiveCount: 1, ack: noop, release: noop, extend: noop }, {
    publisher,
    experiments,
    policy: {
      experimentId: null, maxReceiveCount: null, dropExpired: false,
      limits: { maxBytes: opts.limits.maxRequestBytes, maxDepth: opts.limits.maxRequestDepth },
      validate: (body) => taskNamed(body.name).validate(body),
    },
    taskLimits: { maxResultValues: opts.limits.maxResultValues },
    log: opts.trace ?? (() => {}),
  });
  return { outcome, response: publisher.response, experiment };
}
