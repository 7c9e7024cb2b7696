/**
 * h5wasm prints `Aborted(native code called abort())` (and, on other failures, C stdio or heap
 * messages) straight to the process's stderr/stdout; none of it may reach the output, where it
 * would break the JSON log stream. A damaged .h5ad (a 512-byte run overwritten in obs, which
 * makes HDF5 abort) is answered with one DATA_INVALID line and nothing else.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadH5ad } from "../../src/experiment/load/h5ad.ts";
import { CLI, H5_FIXTURES, rejectsNamingFile, ROOT, tempDir } from "../helpers.ts";

/** A copy of a fixture with 4 KiB at `fraction` of the file overwritten with 0xff (the file keeps its size). */
function damaged(dir: string, fixture: string, fraction: number): string {
  const bytes = Buffer.from(readFileSync(join(H5_FIXTURES, fixture)));
  const at = Math.floor(bytes.length * fraction);
  bytes.fill(0xff, at, at + 4096);
  const out = join(dir, `damaged-${fixture}`);
  writeFileSync(out, bytes);
  return out;
}

const DAMAGED = (dir: string): string => damaged(dir, "anndata08_counts_csc.h5ad", 0.05);

test("a file HDF5 aborts on is DATA_INVALID, and nothing is written to stdout or stderr", async (t) => {
  const path = DAMAGED(tempDir(t));
  const written: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const original = streams.map((s) => s.write);
  streams.forEach((s) => { s.write = ((chunk: unknown) => { written.push(String(chunk)); return true; }) as typeof s.write; });
  try {
    await rejectsNamingFile(loadH5ad(path), "DATA_INVALID", "damaged-anndata08_counts_csc.h5ad", /looks damaged: HDF5 stopped reading it/);
  } finally {
    streams.forEach((s, i) => { s.write = original[i]!; });
  }
  // (the test runner's own protocol also goes through process.stdout while the test awaits)
  assert.deepEqual(written.filter((w) => /Aborted\(|enlarge memory|grow the heap|HDF5-DIAG|^warning:/.test(w)), []);
  // h5wasm still works after the abort
  const ok = await loadH5ad(join(H5_FIXTURES, "anndata08_counts_csc.h5ad"));
  assert.equal(ok.matrix.nCells, 80);
});

/** Runs `cellworker inspect` with JSON logs; every stderr line must be JSON or the one error line. */
function inspect(path: string): { status: number | null; stdout: string; lines: string[] } {
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "node"), [CLI, "inspect", "--data", path, "--no-cache"], {
    encoding: "utf8", timeout: 60_000, env: { ...process.env, CELLWORKER_LOG_FORMAT: "json" },
  });
  return { status: r.status, stdout: r.stdout, lines: r.stderr.split("\n").filter((l) => l !== "") };
}

function assertJsonOrErrorLine(lines: string[], expected: RegExp): void {
  const errors = lines.filter((l) => l.startsWith("cellworker: "));
  assert.equal(errors.length, 1, lines.join("\n"));
  assert.match(errors[0]!, expected);
  for (const l of lines) {
    if (l.startsWith("cellworker: ")) continue;
    assert.doesNotThrow(() => JSON.parse(l), `not a JSON log line: ${l}`);
  }
}

test("the CLI with JSON logs prints only JSON lines and one error line for damaged and truncated HDF5", (t) => {
  const dir = tempDir(t);
  const aborted = inspect(DAMAGED(dir));
  assert.equal(aborted.status, 1);
  assert.equal(aborted.stdout, "");
  assertJsonOrErrorLine(aborted.lines, /^cellworker: DATA_INVALID: damaged-anndata08_counts_csc\.h5ad: cannot read .*looks damaged/);

  const bytes = readFileSync(join(H5_FIXTURES, "cellranger_v3.h5"));
  const truncated = join(dir, "truncated.h5");
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const cut = inspect(truncated);
  assert.equal(cut.status, 1);
  assert.equal(cut.stdout, "");
  assertJsonOrErrorLine(cut.lines, /^cellworker: DATA_INVALID: truncated\.h5: is truncated/);
});
