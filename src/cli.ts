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
import { readFile, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import type { FileResult } from "./result/file-result.ts";
import { openExperiment } from "./experiment/open.ts";
import type { Experiment } from "./experiment/experiment.ts";
import { handleRequest } from "./pipeline.ts";
import { WorkerError } from "./result/errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { defaultCacheDir, logFormat } from "./config.ts";

const USAGE = `usage:
  cellworker run REQUEST.json|- --data PATH [--cell-sets FILE [--save-cell-sets]] [--out FILE]
  cellworker inspect --data PATH [--cell-sets FILE]
  cellworker serve              (configured by environment variables; see README)
  cellworker infra | results [--follow]   (local emulators for development; see README)
options: --cache-dir DIR (default ${defaultCacheDir()}), --no-cache, --quiet`;

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

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "infra" || argv[0] === "results") {
    // development tools with their own options: they live beside the CLI, not in the worker
    const { main: tool } = await import(argv[0] === "infra" ? "../scripts/infra.ts" : "../scripts/results.ts");
    return tool(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE + "\n");
    return values.help ? 0 : 2;
  }
  const log = createLogger({ format: logFormat(), quiet: values.quiet ?? false });
  const open = (): Promise<Experiment> => {
    if (!values.data) throw new UsageError("--data PATH is required");
    return openExperiment({
      path: values.data,
      cacheDir: values["no-cache"] ? null : (values["cache-dir"] ?? defaultCacheDir()),
      ...(values["cell-sets"] ? { cellSetsFile: values["cell-sets"] } : {}),
      log,
    });
  };
  switch (command) {
    case "run":
      return runCommand(rest, values, open, log);
    case "inspect":
      return inspectCommand(await open());
    case "serve": {
      const { serve } = await import("./service/serve.ts");
      return serve();
    }

    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function runCommand(
  rest: string[],
  values: { out?: string | undefined; "cell-sets"?: string | undefined; "save-cell-sets"?: boolean | undefined },
  open: () => Promise<Experiment>,
  log: Logger,
): Promise<number> {
  if (rest.length !== 1) throw new UsageError("run takes exactly one REQUEST.json (or - for stdin)");
  if (values["save-cell-sets"] && !values["cell-sets"]) throw new UsageError("--save-cell-sets needs --cell-sets FILE");
  const text = await readRequest(rest[0]!);
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch {
    throw new UsageError(`${rest[0] === "-" ? "stdin" : rest[0]}: not valid JSON`);
  }
  const experiment = await open();
  const out = values.out;
  const response = await handleRequest(request, async () => experiment, {
    log,
    // a file result (the normalized-matrix CSV) is written to --out as it is; stdout gets the response
    ...(out ? { fileSink: async (file: FileResult) => { await pipeline(file.open(), createWriteStream(out)); return out; } } : {}),
  });
  const json = JSON.stringify(response);
  if (out && response.results[0]?.type !== "file") await writeFile(out, json + "\n");
  else process.stdout.write(json + "\n");
  if (values["save-cell-sets"] && values["cell-sets"]) {
    await writeFile(values["cell-sets"], JSON.stringify({ cellSets: experiment.cellSets }, null, 2) + "\n");
  }
  if (response.response.error) {
    log(`${response.response.errorCode}: ${response.response.userMessage}`);
    return 1;
  }
  return 0;
}

async function readRequest(arg: string): Promise<string> {
  if (arg === "-") {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(arg, "utf8");
  } catch (err) {
    throw new UsageError(`${arg}: cannot read request (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function inspectCommand(exp: Experiment): number {
  const d = exp.data;
  const lines = [
    `path:        ${d.path}`,
    `format:      ${d.format}`,
    `cells:       ${d.matrix.nCells} (cell ids ${exp.maxCellId === d.matrix.nCells - 1 ? `0..${exp.maxCellId}` : `up to ${exp.maxCellId}`})`,
    `genes:       ${d.matrix.nGenes}`,
    `non-zeros:   ${d.matrix.indices.length}`,
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
      if (err instanceof UsageError) process.stderr.write(`cellworker: ${err.message}\n${USAGE}\n`);
      else if (err instanceof Error && err.name === "ConfigError") process.stderr.write(`cellworker: configuration: ${err.message}\n`);
      else if (err instanceof WorkerError) process.stderr.write(`cellworker: ${err.code}: ${err.message}\n`);
      else process.stderr.write(`cellworker: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    },
  );
}
