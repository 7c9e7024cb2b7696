/** Shared test helpers: bundled data paths and temporary folders. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";

export const ROOT = resolve(import.meta.dirname, "..");
export const PBMC_SMALL = join(ROOT, "data", "pbmc_small");
export const PBMC3K = join(ROOT, "data", "pbmc3k");
export const H5_FIXTURES = join(ROOT, "test", "fixtures", "h5");
export const CLI = join(ROOT, "src", "cli.ts");

/** A temporary folder removed after the test. */
export function tempDir(t: TestContext, prefix = "cellworker-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
