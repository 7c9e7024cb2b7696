/**
 * The shape of a task: its wire name, a strict body schema, whether results may be cached,
 * what it changes besides its answer (its effect), how much of the matrix it reads, an
 * example body, and `run`, which
 * orchestrates experiment data and numerics and returns the result JSON (or a FileResult for
 * file downloads), or throws a WorkerError. Tasks do no I/O, change nothing themselves and know
 * nothing of transports or envelopes: the runner (compute/run-task.ts) applies a declared
 * effect to the experiment, and the request pipeline saves it where the protocol keeps cell
 * sets.
 *
 * Adding a task: one file here (its definition, `export default defineTask({...})`) and one
 * line in registry.ts; its test checks the example against the schema.
 */
import type { z } from "zod";
import type { Experiment } from "../experiment/experiment.ts";
import { describeZodError, ErrorCode, WorkerError } from "../result/errors.ts";
import type { CellSetEffect } from "../result/response.ts";

export interface TaskContext {
  experiment: Experiment;
  /** requestProps.pagination (current envelope) or top-level pagination (2021) */
  pagination: unknown;
  /** reports progress of long computations, fraction in [0, 1] */
  progress: (fraction: number, message?: string) => void;
  /** size limits of the deployment; each task falls back to its own default when absent */
  limits?: { maxResultValues?: number };
}

/**
 * What a successful task changes in the experiment's cell sets, besides answering:
 * - `none`: nothing;
 * - `replace-class`: its result is a cell class that replaces the class with the same key and
 *   goes first (ClusterCells);
 * - `append-to-scratchpad`: its result is a cell set appended to the `scratchpad` class
 *   (GetExpressionCellSets).
 */
export type TaskEffect = CellSetEffect;

/**
 * How much of the expression matrix a task reads, so that an experiment whose matrix is still
 * being read from the cache (Experiment.loadMatrix) can answer it: `none` (per-cell and per-gene
 * results of preprocessing, embeddings, cell sets), `rows` (a few genes' rows, asked for with
 * `experiment.rowsOf(genes)`), or `whole` (execute waits until the matrix is in memory).
 */
export type MatrixUse = "none" | "rows" | "whole";

/** A body schema: an object whose `name` is the task's wire name. */
type BodySchema = z.ZodType<{ name: string }, { name: string }>;

export interface TaskDefinition<S extends BodySchema> {
  name: string;
  body: S;
  cacheable: boolean;
  effect: TaskEffect;
  /** what it reads of the matrix, or a function of the (valid) body saying so */
  matrix: MatrixUse | ((body: z.infer<S>) => MatrixUse);
  /** a valid body, as a client would send it (the fuzzer and the README's examples start from these) */
  example: z.input<S>;
  run(body: z.infer<S>, ctx: TaskContext): Promise<unknown>;
}

/** A task as the registry holds it: the definition with its body type erased behind `execute`. */
export interface Task {
  readonly name: string;
  readonly body: z.ZodType;
  readonly cacheable: boolean;
  readonly effect: TaskEffect;
  readonly example: Readonly<{ name: string; [field: string]: unknown }>;
  /** Checks `body` against the task's schema; throws INVALID_INPUT naming the field. */
  validate(body: unknown): void;
  /** What it reads of the matrix for this body (INVALID_INPUT when the body is invalid). */
  matrixUse(body: unknown): MatrixUse;
  /** Validates `body` with the task's schema (INVALID_INPUT naming the field) and runs it. */
  execute(body: unknown, ctx: TaskContext): Promise<unknown>;
}

/** A task definition, with `execute` that keeps the body type tied to the schema. */
export function defineTask<S extends BodySchema>(def: TaskDefinition<S>): Omit<TaskDefinition<S>, "example"> & Task {
  const example: { name: string; [field: string]: unknown } = { ...def.example };
  const parse = (body: unknown): z.infer<S> => {
    const parsed = def.body.safeParse(body);
    if (!parsed.success) throw new WorkerError(ErrorCode.INVALID_INPUT, describeZodError(parsed.error, "body"));
    return parsed.data;
  };
  const useOf = (body: z.infer<S>): MatrixUse => (typeof def.matrix === "function" ? def.matrix(body) : def.matrix);
  return {
    ...def,
    example,
    validate(body) {
      parse(body);
    },
    matrixUse(body) {
      return useOf(parse(body));
    },
    async execute(body, ctx) {
      const parsed = parse(body);
      if (useOf(parsed) === "whole") await ctx.experiment.matrixReady();
      return def.run(parsed, ctx);
    },
  };
}

export { isFileResult, type FileResult } from "../result/file-result.ts";
