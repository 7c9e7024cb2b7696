/**
 * The Dockerfile's install step yields Node 24 (there is no Docker here or in CI, so the image is
 * never built by the tests). Reads the Dockerfile, takes its `ENV` instructions and its
 * `RUN npm ci … && …` step, and runs that step with that environment in a temporary folder
 * holding copies of package.json and package-lock.json, as `docker build` would in /app. Then
 * `node_modules/.bin/node --version` must be ≥ 24: the image runs
 * `node_modules/.bin/node src/cli.ts serve`.
 *
 * Needs the npm registry (the `node` package fetches its binary package from it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const INSTALL_TIMEOUT_MS = 15 * 60_000;

interface InstallStep {
  /** the ENV instructions before the RUN step, in order */
  env: Record<string, string>;
  /** the RUN step's `&&`-joined commands */
  commands: string[];
}

/** Dockerfile instructions, with `\` continuations joined and comment lines dropped. */
function instructions(text: string): string[] {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  return lines.join("\n").replace(/\\\r?\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

/** `KEY=VALUE …` pairs of an ENV instruction (values may be quoted); also the old `ENV KEY VALUE`. */
function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(args);
    if (m) out[m[1]!] = m[2]!;
    return out;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(\S*))/g)) {
    out[m[1]!] = m[2] ?? m[3] ?? m[4] ?? "";
  }
  return out;
}

function installStep(dockerfile: string): InstallStep {
  const env: Record<string, string> = {};
  for (const line of instructions(dockerfile)) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, instruction, args] = m;
    if (instruction!.toUpperCase() === "ENV") Object.assign(env, envPairs(args!));
    if (instruction!.toUpperCase() === "RUN" && /\bnpm ci\b/.test(args!)) {
      assert.ok(!args!.startsWith("["), "the Dockerfile's npm ci RUN step is in exec form; the test expects the shell form");
      return { env, commands: args!.split("&&").map((c) => c.trim()) };
    }
  }
  assert.fail("the Dockerfile has no `RUN npm ci …` step");
}

/** This process's environment without what `npm test` and the test runner add to it. */
function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^npm_/i.test(k) || k === "NODE_ENV" || k === "NODE_TEST_CONTEXT" || k === "INIT_CWD") continue;
    env[k] = v;
  }
  // npm scripts put the project's node_modules/.bin (its Node 24) first; the image has none
  env.PATH = (env.PATH ?? "").split(delimiter).filter((p) => !/node_modules[\\/]\.bin|node-gyp-bin/.test(p)).join(delimiter);
  return env;
}

test("the Dockerfile's install step yields node_modules/.bin/node >= 24", { timeout: INSTALL_TIMEOUT_MS + 60_000 }, (t) => {
  const step = installStep(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
  assert.ok(step.commands.some((c) => /^npm ci\b/.test(c)), `no npm ci in ${step.commands.join(" && ")}`);
  // `npm cache clean --force` only slims the image: here it would empty the machine's npm cache
  const commands = step.commands.filter((c) => !/^npm cache clean\b/.test(c));

  const dir = mkdtempSync(join(tmpdir(), "cellworker-docker-install-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
  copyFileSync(join(ROOT, "package-lock.json"), join(dir, "package-lock.json"));

  const script = commands.join(" && ");
  const run = spawnSync("/bin/sh", ["-c", script], {
    cwd: dir,
    env: { ...cleanEnvironment(), ...step.env },
    encoding: "utf8",
    timeout: INSTALL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${run.stdout ?? ""}${run.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
  assert.ok(
    run.error === undefined && run.status === 0,
    `the Dockerfile's install step failed: ${run.error?.message ?? `exit ${run.status}`} (the step needs the npm registry)\n` +
      `  env: ${JSON.stringify(step.env)}\n  run: ${script}\n  in:  ${dir}\n${output}`,
  );

  const bin = join(dir, "node_modules", ".bin", "node");
  assert.ok(existsSync(bin), `the install step left no node_modules/.bin/node (the image's CMD runs it)\n${output}`);
  const version = spawnSync(bin, ["--version"], { encoding: "utf8", env: cleanEnvironment() });
  assert.equal(version.status, 0, `node_modules/.bin/node --version failed: ${version.stderr}`);
  const major = Number(/^v(\d+)\./.exec(version.stdout.trim())?.[1]);
  assert.ok(major >= 24, `node_modules/.bin/node is ${version.stdout.trim()}; the project needs Node >= 24`);

  if (step.env.NODE_ENV === "production") {
    // the Dockerfile's ENV took effect as in the image: nothing the lock file marks dev-only
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== "" && p.dev === true).map(([path]) => path);
    assert.ok(devOnly.length > 0, "package-lock.json marks no package dev-only");
    const installed = devOnly.filter((path) => existsSync(join(dir, path)));
    assert.deepEqual(installed, [], "the NODE_ENV=production install brought dev-only packages");
  }
});
