/**
 * The layering of src/ (README "Architecture"): no import cycles, and each layer imports only
 * the layers below it. Imports are read from the source text (static and dynamic).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./helpers.ts";

const SRC = join(ROOT, "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : []);
}

/** file (relative to src) → relative files it imports inside src */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)]
      .map((m) => relative(SRC, resolve(dirname(f), m[1]!)))
      .filter((p) => !p.startsWith(".."));
    g.set(relative(SRC, f), deps);
  }
  return g;
}

const layerOf = (file: string): string => (file.includes("/") ? file.split("/")[0]! : file.replace(/\.ts$/, ""));

/** layer → layers it must not import */
const FORBIDDEN: Record<string, string[]> = {
  numerics: ["experiment", "tasks", "compute", "envelope", "transport", "publish", "service", "pipeline", "cli", "infra"],
  result: ["numerics", "experiment", "tasks", "compute", "envelope", "transport", "publish", "service", "pipeline", "cli", "infra"],
  experiment: ["tasks", "compute", "envelope", "transport", "publish", "service", "pipeline", "cli", "infra"],
  tasks: ["compute", "envelope", "transport", "publish", "service", "pipeline", "cli", "infra"],
  envelope: ["numerics", "experiment", "tasks", "transport", "publish", "service", "pipeline", "cli", "infra"],
  transport: ["numerics", "experiment", "tasks", "compute", "envelope", "publish", "service", "pipeline", "cli", "infra"],
  publish: ["numerics", "experiment", "tasks", "compute", "transport", "pipeline", "cli", "infra"],
  compute: ["transport", "publish", "service", "pipeline", "cli", "infra"],
  pipeline: ["transport", "publish", "service", "cli", "infra"],
};

test("no import cycles in src/", () => {
  const g = graph();
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "visiting") { cycles.push([...path.slice(path.indexOf(f)), f].join(" → ")); return; }
    state.set(f, "visiting");
    for (const d of g.get(f) ?? []) visit(d, [...path, f]);
    state.set(f, "done");
  };
  for (const f of g.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

test("layers import only what is below them", () => {
  const violations: string[] = [];
  for (const [file, deps] of graph()) {
    const forbidden = FORBIDDEN[layerOf(file)] ?? [];
    for (const d of deps) if (forbidden.includes(layerOf(d))) violations.push(`${file} → ${d}`);
  }
  assert.deepEqual(violations, []);
});

test("only numerics/scran.ts imports scran.js, only experiment/load/hdf5.ts imports h5wasm", () => {
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    const rel = relative(SRC, f);
    if (/from\s+["']scran\.js["']/.test(text)) assert.equal(rel, "numerics/scran.ts");
    if (/from\s+["']h5wasm/.test(text)) assert.equal(rel, "experiment/load/hdf5.ts");
  }
});
