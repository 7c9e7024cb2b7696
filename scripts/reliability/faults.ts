/**
 * The fault report: runs the fault-injection tests (test/integration/faults*.test.ts, the fault
 * switch's own test and the worker loop's) and writes what each scenario checked and whether it
 * held, with durations, to reliability/faults.json. What each fault does to the worker is
 * described in reliability/README.md.
 *
 *   npm run reliability -- faults [--out reliability/faults.json]
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { commandLine, ROOT } from "./common.ts";

export const FAULT_TESTS = [
  "test/integration/faults.test.ts",
  "test/integration/faults-current.test.ts",
  "test/integration/emulator-faults.test.ts",
  "test/integration/worker-loop.test.ts",
  "test/integration/transient.test.ts",
];

interface TestLine { file: string | null; name: string; ok: boolean; skipped: boolean; ms: number; error?: string }

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string", default: "reliability/faults.json" } } });
  const scratch = mkdtempSync(join(tmpdir(), "cellworker-faults-report-"));
  const lines = join(scratch, "tests.jsonl");
  const t0 = Date.now();
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [
      "--test", "--test-concurrency=1",
      "--test-reporter=spec", "--test-reporter-destination=stderr",
      `--test-reporter=${join(import.meta.dirname, "json-lines-reporter.ts")}`, `--test-reporter-destination=${lines}`,
      ...FAULT_TESTS,
    ], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.on("exit", (c) => done(c));
  });
  const tests = readFileSync(lines, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as TestLine)
    .map((t) => ({ ...t, file: t.file ? relative(ROOT, t.file) : null }));
  rmSync(scratch, { recursive: true, force: true });
  const report = {
    command: commandLine(["faults", ...argv]),
    generatedAt: new Date().toISOString(),
    files: FAULT_TESTS,
    totals: { tests: tests.length, passed: tests.filter((t) => t.ok && !t.skipped).length, failed: tests.filter((t) => !t.ok).length, seconds: Math.round((Date.now() - t0) / 1000) },
    tests,
  };
  const out = resolve(ROOT, values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  process.stdout.write(`${report.totals.passed}/${report.totals.tests} fault scenarios held (${report.totals.failed} failed) in ${report.totals.seconds} s → ${values.out}\n`);
  return code === 0 && report.totals.failed === 0 ? 0 : 1;
}
