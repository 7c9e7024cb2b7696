/**
 * S3 keys built from request ids. Today's protocol stores a result under its ETag as it is, so
 * a hostile ETag must be refused before it reaches S3; the 2021 path sanitises its uuid into a
 * key prefix. Checked against s3rver (which writes keys as files, the attacker's report: an
 * ETag of `../../../etc/passwd` wrote under /etc), rooted deep inside a temporary folder so
 * that an escape lands in the folder, never on the host.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { isSafeObjectKey, safeObjectKey } from "../../src/publish/object-keys.ts";
import { CurrentPublisher } from "../../src/publish/current.ts";
import { S3ObjectStore } from "../../src/publish/object-store.ts";
import type { Address } from "../../src/publish/publisher.ts";
import { isValidEtag } from "../../src/envelope/schema.ts";
import { parseEnvelope } from "../../src/envelope/parse.ts";
import type { TaskFailed } from "../../src/result/response.ts";
import { Readable } from "node:stream";
import type { FileResult } from "../../src/result/file-result.ts";
import type { SocketEvents } from "../../src/publish/socket-events.ts";
import { toFailure } from "../../src/result/errors.ts";
import { tempDir } from "../helpers.ts";

const require = createRequire(import.meta.url);
const BUCKET = "worker-results-test";
const TRAVERSAL = "../../../etc/passwd";

test("safeObjectKey keeps [A-Za-z0-9._-], replaces the rest, never yields . or .. or an empty key", () => {
  assert.equal(safeObjectKey("509520fe-d329-437d-8752-b5868ad59425"), "509520fe-d329-437d-8752-b5868ad59425");
  assert.equal(safeObjectKey(TRAVERSAL), ".._.._.._etc_passwd");
  assert.equal(safeObjectKey("a/b\\c d"), "a_b_c_d");
  for (const id of ["", ".", "..", "..."]) assert.equal(safeObjectKey(id), "request");
  assert.equal(safeObjectKey("x".repeat(500)).length, 200);
  for (const id of [TRAVERSAL, "/", "a/../../b", "\u0000", "é/é"]) assert.ok(!safeObjectKey(id).includes("/"));
});

test("isSafeObjectKey: ETags as they are; never a path, dots alone, empty or over 256 characters", () => {
  for (const id of ["d41d8cd98f00b204e9800998ecf8427e", "a:b-c_d.e"]) assert.equal(isSafeObjectKey(id), true, id);
  for (const id of [TRAVERSAL, "..", ".", "", "a/b", "x".repeat(257), "a b"]) assert.equal(isSafeObjectKey(id), false, JSON.stringify(id));
});

interface S3rver { run(): Promise<AddressInfo>; close(): Promise<void> }

/** s3rver whose root is three folders below `top`, and a client for it. */
async function startS3(t: TestContext): Promise<{ s3: S3Client; top: string; root: string }> {
  const top = tempDir(t, "cellworker-keys-");
  const root = join(top, "a", "b", "c");
  mkdirSync(root, { recursive: true });
  const S3rverClass = require("s3rver") as new (opts: Record<string, unknown>) => S3rver;
  const server = new S3rverClass({ port: 0, address: "127.0.0.1", silent: true, directory: root });
  const { port } = await server.run();
  const s3 = new S3Client({ region: "eu-west-1", endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  t.after(async () => { s3.destroy(); await server.close(); });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return { s3, top, root };
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

class RecordingEvents implements SocketEvents {
  readonly sent: { event: string; payload: unknown }[] = [];
  async emit(event: string, payload: unknown): Promise<number> { this.sent.push({ event, payload }); return 1; }
  async close(): Promise<void> {}
}

const address = (etag: string): Address => ({
  era: "current",
  id: etag,
  echo: { ETag: etag, experimentId: "exp-a", timeout: "2099-12-31T00:00:00Z", body: { name: "ListGenes" }, requestProps: { broadcast: false, cacheUniquenessKey: null } },
  experimentId: "exp-a",
  taskName: "ListGenes",
});

test("the envelope accepts exactly the ETags that are safe as object keys", () => {
  for (const id of ["d41d8cd98f00b204e9800998ecf8427e", "abc123", "a:b", "..a", "x".repeat(256), TRAVERSAL, "..", ".", "...", "", "a/b", "x".repeat(257), "a b", "é", "a\nb"]) {
    assert.equal(isValidEtag(id), isSafeObjectKey(id), JSON.stringify(id));
  }
});

test("a result for ETag ../../../etc/passwd is refused and nothing is written outside the bucket", async (t) => {
  const { s3, top, root } = await startS3(t);
  const events = new RecordingEvents();
  const publisher = new CurrentPublisher({ store: new S3ObjectStore(s3, BUCKET), events, log: () => {} });

  // a good ETag lands in the bucket (so the check below would see an escape)
  const good = "d41d8cd98f00b204e9800998ecf8427e";
  await publisher.publish(address(good), { ok: true, data: { genes: ["CD3E"] }, cacheable: true });
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key), [good]);

  assert.equal(await publisher.alreadyAnswered(address(TRAVERSAL)), false);
  await assert.rejects(publisher.publish(address(TRAVERSAL), { ok: true, data: { genes: ["CD3E"] }, cacheable: true }));
  const file: FileResult = { kind: "file", contentType: "text/csv", contentEncoding: "gzip", open: () => Readable.from([Buffer.from("gene,cell\n")]) };
  await assert.rejects(publisher.publish(address(TRAVERSAL), { ok: true, data: file, cacheable: true }));

  const outside = filesUnder(top).filter((f) => !join(top, f).startsWith(root + "/"));
  assert.deepEqual(outside, [], "no file outside the s3rver root");
  assert.ok(!filesUnder(root).some((f) => f.includes("passwd")), "no passwd object in the bucket either");
  assert.ok(!events.sent.some((e) => e.event === `WorkResponse-${TRAVERSAL}`), "no result announced for it");
});

test("a request with that ETag is INVALID_INPUT; its error answer stores nothing", async (t) => {
  const { s3, top } = await startS3(t);
  const raw = { ...address(TRAVERSAL).echo };
  let failure: TaskFailed | null = null;
  try {
    parseEnvelope(raw);
  } catch (err) {
    failure = { ok: false, ...toFailure(err) };
  }
  assert.ok(failure);
  assert.equal(failure.code, "INVALID_INPUT");
  assert.match(failure.message, /^ETag: /);

  const events = new RecordingEvents();
  const publisher = new CurrentPublisher({ store: new S3ObjectStore(s3, BUCKET), events, log: () => {} });
  await publisher.publish({ ...address(TRAVERSAL), experimentId: null }, failure);
  assert.deepEqual(filesUnder(top).filter((f) => !f.startsWith(join("a", "b", "c", BUCKET) + "/") || f.includes("passwd")), []);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  assert.equal(listed.KeyCount ?? 0, 0);
  const answer = events.sent.find((e) => e.event === `WorkResponse-${TRAVERSAL}`);
  assert.ok(answer);
  assert.equal((answer.payload as { response: { error: boolean } }).response.error, true);
});
