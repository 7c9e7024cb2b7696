#!/usr/bin/env node
/**
 * The `cellworker` command line: argument parsing, then the library. User errors print one
 * line to stderr and exit non-zero; stdout carries only result JSON.
 *
 *   cellworker run REQUEST.json|- --data PATH [--cell-sets FILE [--save-cell-sets]] [--out FILE]
 *   cellworker inspect --data PATH [--cell-sets FILE]
 *   common: [--cache-dir DIR] [--no-cache] [--quiet]
 */
import { parseArgs } from "node:util";
import { access, constants, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Experiment } from "./experiment/experiment.ts";
import { nonZeros } from "./experiment/pending-matrix.ts";
import { readRequestFile, readRequestStream } from "./envelope/read.ts";
import { WorkerError } from "./result/errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { defaultCacheDir, limitsOf, logFormat, type Limits } from "./config.ts";

const usage = (env: NodeJS.ProcessEnv): string => `usage:
  cellworker run REQUEST.json|- --data PATH [--cell-sets FILE [--save-cell-sets]] [--out FILE]
  cellworker inspect --data PATH [--cell-sets FILE]
  cellworker serve              (configured by environment variables; see README)
options: --cache-dir DIR (default ${defaultCacheDir(env)}), --no-cache, --quiet
(local AWS emulators for development: npm run infra; their results: npm run results)`;

class UsageError extends Error {}

const OPTIONS = {
  data: { type: "string" },
  "cell-sets": { type: "string" },
  "save-cell-sets": { type: "boolean" },
  out: { type: "string" },
  "cache-dir": { type: "string" },
  "no-cache": { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

/** The command line; the environment is read here, once, and passed down. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(usage(env) + "\n");
    return values.help ? 0 : 2;
  }
  switch (command) {
    case "run":
      return runCommand(rest, values, env);
    case "inspect":
      return inspectCommand(await openFrom(values, env, logger(values, env)));
    case "serve": {
      const { serve } = await import("./service/serve.ts");
      return serve(env);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function logger(values: Values, env: NodeJS.ProcessEnv): Logger {
  return createLogger({ format: logFormat(env), quiet: values.quiet ?? false });
}

/** The experiment named by --data (read, preprocessed or taken from the cache). */
async function openFrom(values: Values, env: NodeJS.ProcessEnv, log: Logger, limits: Limits = limitsOf(env)): Promise<Experiment> {
  if (!values.data) throw new UsageError("--data PATH is required");
  // each command loads only the code it runs (serve's start-up does not pay for the readers and tasks)
  const { openExperiment } = await import("./experiment/open.ts");
  return openExperiment({
    path: values.data,
    cacheDir: values["no-cache"] ? null : (values["cache-dir"] ?? defaultCacheDir(env)),
    ...(values["cell-sets"] ? { cellSetsFile: values["cell-sets"] } : {}),
    log,
    limits,
    background: true,
  });
}

/**
 * `run`: one request through the same pipeline as `serve`, answered on stdout (or --out). The
 * experiment is opened only when the request gets as far as computing: a request that is
 * refused (not JSON, a bad envelope or body) is answered at once.
 */
async function runCommand(rest: string[], values: Values, env: NodeJS.ProcessEnv): Promise<number> {
  if (rest.length !== 1) throw new UsageError("run takes exactly one REQUEST.json (or - for stdin)");
  if (values["save-cell-sets"] && !values["cell-sets"]) throw new UsageError("--save-cell-sets needs --cell-sets FILE");
  if (!values.data) throw new UsageError("--data PATH is required");
  const limits = limitsOf(env);
  const log = logger(values, env);
  const out = values.out ?? null;
  if (out !== null) await checkWritable(out);
  const arg = rest[0]!;
  const bytes = arg === "-" ? await readRequestStream(process.stdin, limits.maxRequestBytes) : await readRequestFile(arg, limits.maxRequestBytes);
  const text = bytes.toString("utf8");
  const { answerLocally } = await import("./pipeline/local.ts");
  const { outcome, response, experiment } = await answerLocally(text, () => openFrom(values, env, log, limits), { limits, log, trace: logFormat(env) === "json" ? log : () => {}, out });
  if (outcome !== "answered" || !response) throw new WorkerError("WORKER_ERROR", "the response could not be written");
  const cellSetsFile = values["cell-sets"];
  if (values["save-cell-sets"] && cellSetsFile && experiment !== null) {
    await writeFile(cellSetsFile, JSON.stringify({ cellSets: experiment.cellSets }, null, 2) + "\n");
  }
  if (response.response.error) {
    log(`${response.response.errorCode}: ${response.response.userMessage}`);
    return 1;
  }
  return 0;
}

/** --out must be a file we can write: checked before any work, so the answer is not lost. */
async function checkWritable(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) throw new UsageError(`--out ${path}: is a directory`);
  try {
    await access(info ? path : dirname(path), constants.W_OK);
  } catch (err) {
    throw new UsageError(`--out ${path}: cannot write there (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function inspectCommand(exp: Experiment): number {
  const d = exp.data;
  const lines = [
    `path:        ${d.path}`,
    `format:      ${d.format}`,
    `cells:       ${d.matrix.nCells} (cell ids ${exp.maxCellId === d.matrix.nCells - 1 ? `0..${exp.maxCellId}` : `up to ${exp.maxCellId}`})`,
    `genes:       ${d.matrix.nGenes}`,
    `non-zeros:   ${nonZeros(d.matrix)}`,
    `matrix:      ${d.matrixKind === "counts" ? "raw counts" : "log-normalised values (no raw counts)"} from ${d.matrixSource}`,
    `obs columns: ${d.obs.length ? d.obs.map((c) => `${c.name} (${c.kind}${c.kind === "categorical" ? `, ${c.categories.length} levels` : ""})`).join(", ") : "none"}`,
    `embeddings:  ${Object.keys(d.embeddings).join(", ") || "none stored"}`,
    `HVGs:        ${exp.state.hvgs.length}; PCs: ${exp.state.pca.nPcs}; louvain clusters: ${new Set(exp.state.louvain).size}`,
    `cell sets:   ${exp.cellSets.map((c) => `${c.key} (${c.children.length})`).join(", ")}`,
    `cache:       ${exp.cache.status}${exp.cache.file ? ` ${exp.cache.file}` : ""}${exp.cache.reason ? ` (${exp.cache.reason})` : ""}`,
    ...d.notes.map((n) => `note:        ${n}`),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      if (err instanceof UsageError) process.stderr.write(`cellworker: ${err.message}\n${usage(process.env)}\n`);
      else if (err instanceof Error && err.name === "ConfigError") process.stderr.write(`cellworker: configuration: ${err.message}\n`);
      else if (err instanceof WorkerError) process.stderr.write(`cellworker: ${err.code}: ${err.message}\n`);
      else process.stderr.write(`cellworker: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    },
  );
}
