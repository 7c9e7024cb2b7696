/**
 * The S3 mirror (src/experiment/source/s3-sync.ts) against the S3 emulator: the local folder
 * equals the experiment's prefix, files gone from the bucket are deleted locally and forgotten,
 * and the service's provider reopens the experiment when a file disappeared.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startEmulators, type Emulators } from "../../tools/infra/emulators.ts";
import { LOCAL_CREDENTIALS } from "../../tools/infra/provision.ts";
import { dataPathOf, syncExperiment, type SyncMemo } from "../../src/experiment/source/s3-sync.ts";
import { loadTenxMtx } from "../../src/experiment/load/tenx-mtx.ts";
import { S3ExperimentProvider } from "../../src/service/experiment-provider.ts";
import { PBMC_SMALL, tempDir } from "../helpers.ts";

const REGION = "eu-west-1";
const BUCKET = "cellworker-sync-test";
let emu: Emulators;
let s3: S3Client;

before(async () => {
  emu = await startEmulators({ port: 0, dynamoPort: 0, host: "127.0.0.1", region: REGION });
  s3 = new S3Client({ region: REGION, endpoint: emu.endpoint, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

after(async () => {
  s3?.destroy();
  await emu?.stop();
});

const put = (key: string, body: Buffer | string): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const del = (key: string): Promise<unknown> => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

/** Every file under `dir`, relative, sorted. */
function localFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function uploadPbmcSmall(experimentId: string): Promise<void> {
  for (const f of ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz", "annotations.csv"]) {
    await put(`${experimentId}/${f}`, readFileSync(join(PBMC_SMALL, f)));
  }
}

test("files gone from the bucket are deleted locally and forgotten; the folder equals the prefix", async (t) => {
  const dataDir = tempDir(t);
  const id = "sync-removed";
  await uploadPbmcSmall(id);
  await put(`${id}/extra/notes.txt`, "a note");
  const memo: SyncMemo = new Map();
  const first = await syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo });
  assert.deepEqual([...first.downloaded].sort(), ["annotations.csv", "barcodes.tsv.gz", "extra/notes.txt", "features.tsv.gz", "matrix.mtx.gz"]);
  assert.deepEqual(first.removed, []);
  assert.equal(memo.size, 5);
  const before = await loadTenxMtx(first.dir);
  assert.ok(before.obs.some((c) => c.name === "groups"), "annotations.csv read");

  // matrix.mtx.gz replaced by a plain matrix.mtx holding different counts; annotations.csv and a folder deleted
  const lines = gunzipSync(readFileSync(join(PBMC_SMALL, "matrix.mtx.gz"))).toString().split("\n");
  const sizeLine = lines.findIndex((l, i) => i > 0 && !l.startsWith("%"));
  const doubled = lines.map((l, i) => {
    if (i <= sizeLine || l === "") return l;
    const [r, c, v] = l.split(" ");
    return `${r} ${c} ${Number(v) * 2}`;
  }).join("\n");
  await del(`${id}/matrix.mtx.gz`);
  await put(`${id}/matrix.mtx`, doubled);
  await del(`${id}/annotations.csv`);
  await del(`${id}/extra/notes.txt`);
  // a left-over of a download that crashed long ago is cleaned up, without being reported;
  // a recent one (another process downloading) is left alone
  const oldPart = join(first.dir, "matrix.mtx.gz.999999.1.part");
  const livePart = join(first.dir, "features.tsv.gz.999998.2.part");
  writeFileSync(oldPart, "partial");
  writeFileSync(livePart, "partial");
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  utimesSync(oldPart, longAgo, longAgo);
  const second = await syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo });
  assert.deepEqual(second.downloaded, ["matrix.mtx"]);
  assert.deepEqual(second.removed, ["annotations.csv", "extra/notes.txt", "matrix.mtx.gz"]);
  assert.deepEqual(localFiles(second.dir), ["barcodes.tsv.gz", "features.tsv.gz", "features.tsv.gz.999998.2.part", "matrix.mtx"]);
  rmSync(livePart);
  assert.equal(existsSync(join(second.dir, "extra")), false, "emptied folder removed");
  assert.deepEqual([...memo.keys()].map((k) => k.slice(second.dir.length + 1)).sort(), ["barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx"]);
  assert.equal(dataPathOf(second), second.dir);

  const after = await loadTenxMtx(second.dir);
  assert.equal(after.matrixSource, "matrix.mtx");
  assert.deepEqual(after.obs, [], "no classes from the deleted annotations.csv");
  const sum = (v: Float32Array): number => v.reduce((a, b) => a + b, 0);
  assert.equal(sum(after.matrix.values), 2 * sum(before.matrix.values), "the new matrix is served");

  // a file put into the folder by hand is not part of the prefix either
  writeFileSync(join(second.dir, "stray.csv"), "x\n");
  mkdirSync(join(second.dir, "sub"));
  writeFileSync(join(second.dir, "sub", "old.tsv"), "y\n");
  const third = await syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo });
  assert.deepEqual(third.downloaded, []);
  assert.deepEqual(third.removed, ["stray.csv", "sub/old.tsv"]);
  assert.deepEqual(localFiles(third.dir), ["barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx"]);

  const fourth = await syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo });
  assert.deepEqual([fourth.downloaded, fourth.removed], [[], []]);
});

test("an emptied prefix empties the local folder and is DATA_NOT_FOUND", async (t) => {
  const dataDir = tempDir(t);
  const id = "sync-emptied";
  await put(`${id}/barcodes.tsv`, "c1\n");
  const memo: SyncMemo = new Map();
  const first = await syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo });
  assert.deepEqual(localFiles(first.dir), ["barcodes.tsv"]);
  await del(`${id}/barcodes.tsv`);
  await assert.rejects(syncExperiment({ s3, bucket: BUCKET, experimentId: id, dataDir, memo }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "DATA_NOT_FOUND");
    return true;
  });
  assert.deepEqual(localFiles(first.dir), []);
  assert.equal(memo.size, 0);
});

test("the provider reopens the experiment when a file disappeared from the bucket", async (t) => {
  const dataDir = tempDir(t);
  const cacheDir = tempDir(t);
  const id = "sync-provider";
  await uploadPbmcSmall(id);
  const reads: string[] = [];
  const provider = new S3ExperimentProvider({
    s3, bucket: BUCKET, experimentId: id, dataDir, cacheDir, cellSets: null, compute: "in-process",
    taskTimeoutMs: 60_000, loadTimeoutMs: 60_000,
    log: (message) => { if (message.startsWith("read 10x-mtx")) reads.push(message); },
  });
  t.after(() => provider.close());
  await provider.get();
  assert.equal(reads.length, 1);
  await provider.get();
  assert.equal(reads.length, 1, "nothing changed: not reopened");
  await del(`${id}/annotations.csv`);
  await provider.get();
  assert.equal(reads.length, 2, "annotations.csv was deleted: reopened without it");
});
