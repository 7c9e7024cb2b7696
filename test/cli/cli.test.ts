import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, PBMC_SMALL, ROOT, tempDir } from "../helpers.ts";

function cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: "utf8", cwd: ROOT });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const request = (body: object, extra: object = {}): string =>
  JSON.stringify({ uuid: "u-1", socketId: "s", experimentId: "e", timeout: "2099-12-31 00:00:00", body, ...extra });

test("run GetEmbedding pca: a WorkResponse with [PC1, PC2] per cell id on stdout only", (t) => {
  const cache = tempDir(t);
  const r = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", cache], request({ name: "GetEmbedding", type: "pca" }));
  assert.equal(r.code, 0, r.stderr);
  const response = JSON.parse(r.stdout);
  assert.equal(response.request.uuid, "u-1");
  assert.deepEqual(response.response, { cacheable: true, error: false });
  assert.equal(response.results.length, 1);
  assert.equal(response.results[0]["content-type"], "application/json");
  assert.equal(response.results[0].type, "inline");
  const body = JSON.parse(response.results[0].body);
  assert.equal(body.length, 80);
  assert.ok(body.every((p: unknown) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)));
  // PC1 has more spread than PC2
  const variance = (k: number): number => { const v = body.map((p: number[]) => p[k]!); const mu = v.reduce((a: number, b: number) => a + b, 0) / v.length; return v.reduce((a: number, b: number) => a + (b - mu) ** 2, 0); };
  assert.ok(variance(0) > variance(1));
  assert.match(r.stderr, /read 10x-mtx: 80 cells x 230 genes/);
});

test("the processed-state cache makes the second run a hit; a corrupt cache is rebuilt", (t) => {
  const cache = tempDir(t);
  const first = cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", cache]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /cache:\s+built/);
  const second = cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", cache]);
  assert.match(second.stdout, /cache:\s+hit/);
  assert.doesNotMatch(second.stderr, /preprocessed/);
  // the cache file itself (beside it, the input's remembered hash, named by the input's path)
  const file = readdirSync(cache).find((f) => f.endsWith(".cwstate"));
  const bytes = readFileSync(join(cache, file!));
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(join(cache, file!), bytes);
  const third = cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", cache]);
  assert.match(third.stdout, /cache:\s+rebuilt .*checksum/);
  assert.match(third.stderr, /cache corrupt/);
  writeFileSync(join(cache, file!), bytes.subarray(0, 100));
  assert.match(cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", cache]).stdout, /cache:\s+rebuilt/);
  assert.match(cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", cache]).stdout, /cache:\s+hit/);
});

test("the same request gives the same numbers with and without the cache", (t) => {
  const cache = tempDir(t);
  const req = request({ name: "GetEmbedding", type: "pca" });
  const a = cli(["run", "-", "--data", PBMC_SMALL, "--no-cache"], req);
  const b = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", cache], req);
  const c = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", cache], req);
  assert.equal(a.stdout, b.stdout);
  assert.equal(b.stdout, c.stdout);
});

test("inspect reports format, counts source, obs columns and cell-set classes", (t) => {
  const r = cli(["inspect", "--data", PBMC_SMALL, "--cache-dir", tempDir(t)]);
  assert.match(r.stdout, /format:\s+10x-mtx/);
  assert.match(r.stdout, /raw counts from matrix\.mtx\.gz/);
  assert.match(r.stdout, /groups \(categorical, 2 levels\)/);
  assert.match(r.stdout, /cell sets:\s+louvain \(\d+\), scratchpad \(0\), .*groups \(2\)/);
});

test("user errors: one line on stderr, non-zero exit, no stack trace", (t) => {
  const cache = tempDir(t);
  const cases: [string[], string | undefined, RegExp][] = [
    [["run", "-", "--data", join(ROOT, "nope")], request({ name: "GetEmbedding", type: "pca" }), /DATA_NOT_FOUND: .*nope: no such file/],
    [["run", join(ROOT, "missing.json"), "--data", PBMC_SMALL], undefined, /INVALID_INPUT: .*missing\.json: cannot read the request \(ENOENT\)/],
    [["inspect"], undefined, /--data PATH is required/],
    [["frobnicate"], undefined, /unknown command/],
  ];
  for (const [args, input, pattern] of cases) {
    const r = cli([...args, "--cache-dir", cache], input);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.split("\n")[0]!, pattern);
    assert.doesNotMatch(r.stderr, /\s+at .*\.ts:\d+/);
  }
});

test("task errors are error WorkResponses: unknown task, invalid body, bad envelope", (t) => {
  const cache = tempDir(t);
  const cases: [string, string, RegExp][] = [
    [request({ name: "Frobnicate" }), "TASK_NOT_FOUND", /Unknown task "Frobnicate"/],
    ["{not json", "INVALID_INPUT", /request is not valid JSON/],
    ["\uFEFF" + request({ name: "GetEmbedding", type: "umapp" }), "INVALID_INPUT", /^body\.type: /],
    [request({ name: "GetEmbedding", type: "umapp" }), "INVALID_INPUT", /^body\.type: /],
    [request({ name: "GetEmbedding", type: "pca", extra: 1 }), "INVALID_INPUT", /extra/],
    [JSON.stringify({ experimentId: "e", timeout: "2099-01-01T00:00:00Z", body: { name: "GetEmbedding" } }), "INVALID_INPUT", /ETag or a uuid/],
    [request({ name: "GetEmbedding", type: "pca" }, { timeout: "whenever" }), "INVALID_INPUT", /timeout/],
  ];
  for (const [input, code, pattern] of cases) {
    const r = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", cache], input);
    assert.equal(r.code, 1);
    const response = JSON.parse(r.stdout);
    assert.equal(response.response.error, true);
    assert.equal(response.response.cacheable, false);
    assert.equal(response.response.errorCode, code);
    assert.match(response.response.userMessage, pattern);
    assert.deepEqual(JSON.parse(response.results[0].body), { errorCode: code, userMessage: response.response.userMessage });
    assert.match(r.stderr.trim().split("\n").at(-1)!, new RegExp(`^cellworker: ${code}: `));
  }
});

test("current-era envelope (ETag) is accepted and its Authorization is never echoed", (t) => {
  const req = JSON.stringify({
    ETag: "abc123", experimentId: "e", timeout: "2099-12-31T00:00:00Z", Authorization: "Bearer secret-jwt",
    body: { name: "GetEmbedding", type: "pca" }, requestProps: { broadcast: false, cacheUniquenessKey: null },
  });
  const r = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", tempDir(t)], req);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /secret-jwt/);
  assert.equal(JSON.parse(r.stdout).request.ETag, "abc123");
});

test("--out writes the response to a file and keeps stdout empty", (t) => {
  const dir = tempDir(t);
  const out = join(dir, "response.json");
  const r = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", dir, "--out", out], request({ name: "GetEmbedding", type: "pca" }));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
  assert.equal(JSON.parse(readFileSync(out, "utf8")).response.error, false);
});

test("an experiment over CELLWORKER_MEMORY_BUDGET_MB is refused with a clear error, not an out-of-memory kill", () => {
  const r = spawnSync(process.execPath, [CLI, "inspect", "--data", PBMC_SMALL, "--no-cache"], {
    encoding: "utf8", cwd: ROOT, env: { ...process.env, CELLWORKER_MEMORY_BUDGET_MB: "0.01" },
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr.trim().split("\n").at(-1)!, /^cellworker: DATA_UNSUPPORTED: This experiment \(80 cells, 4456 non-zero values\) needs about 1 MiB, more than this worker's memory budget of 0.01 MiB\.$/);
  const ok = spawnSync(process.execPath, [CLI, "inspect", "--data", PBMC_SMALL, "--no-cache"], {
    encoding: "utf8", cwd: ROOT, env: { ...process.env, CELLWORKER_MEMORY_BUDGET_MB: "64" },
  });
  assert.equal(ok.status, 0, ok.stderr);
});

test("a request refused before computing is answered without opening the experiment", () => {
  // the data path does not exist: the answer is about the request, not DATA_NOT_FOUND
  const r = cli(["run", "-", "--data", join(ROOT, "no-such-data")], request({ name: "GetEmbedding", type: "umapp" }));
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).response.errorCode, "INVALID_INPUT");
  assert.doesNotMatch(r.stderr, /DATA_NOT_FOUND|read 10x/);
});

test("a request file over MAX_REQUEST_BYTES is refused in one line before it is parsed", (t) => {
  const file = join(tempDir(t), "big.json");
  writeFileSync(file, request({ name: "GeneExpression", genes: new Array(2000).fill("CST3") }));
  const r = spawnSync(process.execPath, [CLI, "run", file, "--data", PBMC_SMALL], { encoding: "utf8", cwd: ROOT, env: { ...process.env, MAX_REQUEST_BYTES: "1000" } });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr.trim(), /^cellworker: INVALID_INPUT: .*big\.json: request is larger than the limit of 1000 bytes$/);
});

test("--out to a path that cannot be written is a one-line usage error before any work", (t) => {
  const dir = tempDir(t);
  for (const out of [join(dir, "no", "such", "dir", "r.json"), dir]) {
    const r = cli(["run", "-", "--data", PBMC_SMALL, "--cache-dir", dir, "--out", out], request({ name: "GetEmbedding", type: "pca" }));
    assert.equal(r.code, 2);
    assert.match(r.stderr.split("\n")[0]!, /^cellworker: --out .*: (cannot write there \(ENOENT\)|is a directory)$/);
    assert.doesNotMatch(r.stderr, /\s+at .*\.ts:\d+/);
  }
});

test("MAX_RESULT_VALUES from the environment reaches the task (read once, at start-up)", () => {
  const body = request({ name: "GeneExpression", genes: ["CST3", "PPBP"] });
  const run = (value: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [CLI, "run", "-", "--data", PBMC_SMALL, "--no-cache"], { input: body, encoding: "utf8", cwd: ROOT, env: { ...process.env, MAX_RESULT_VALUES: value } });
  const small = run("10");
  assert.equal(small.status, 1);
  assert.match(String(small.stderr).trim().split("\n").at(-1)!, /^cellworker: INVALID_INPUT: genes: these 2 genes have \d+ non-zero values, more than one response can carry \(10\)/);
  assert.equal(run("1000").status, 0);
  const bad = run("lots");
  assert.equal(bad.status, 1);
  assert.match(String(bad.stderr).trim(), /^cellworker: configuration: MAX_RESULT_VALUES must be an integer >= 1 \(got "lots"\)$/);
});
