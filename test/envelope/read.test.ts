/**
 * Reading a request file or stdin: never more than the cap (plus one byte to tell) is read; a
 * larger input is refused with INVALID_INPUT before it is read whole.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { truncateSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { readRequestFile, readRequestStream } from "../../src/envelope/read.ts";
import { parseEnvelope, parseRequestText } from "../../src/envelope/parse.ts";
import { isInvalid, tempDir } from "../helpers.ts";


const REQUEST = JSON.stringify({ uuid: "u1", experimentId: "e", timeout: "2099-12-31T00:00:00Z", body: { name: "ListGenes" } });

test("a request file within the cap is read whole (a BOM is left for parseRequestText)", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "request.json");
  writeFileSync(file, "\uFEFF" + REQUEST);
  const bytes = await readRequestFile(file, 1000);
  assert.equal(bytes.length, Buffer.byteLength(REQUEST) + 3);
  assert.equal(parseEnvelope(parseRequestText(bytes)).id, "u1");
  assert.equal((await readRequestFile(file, bytes.length)).length, bytes.length, "exactly at the cap is fine");
});

test("a file over the cap is refused from its size, without reading it (a 4 GiB sparse file)", async (t) => {
  const file = join(tempDir(t), "huge.json");
  writeFileSync(file, "");
  truncateSync(file, 4 * 2 ** 30);
  await assert.rejects(readRequestFile(file, 16 * 2 ** 20), isInvalid(/huge\.json.*larger than the limit of 16777216 bytes/));
  const small = join(tempDir(t), "small.json");
  writeFileSync(small, REQUEST);
  await assert.rejects(readRequestFile(small, 10), isInvalid(/larger than the limit of 10 bytes/));
});

test("an endless input (/dev/zero) is refused after reading the cap plus one byte", async () => {
  await assert.rejects(readRequestFile("/dev/zero", 1 << 20), isInvalid(/larger than the limit of 1048576 bytes/));
});

test("a missing file or a folder is INVALID_INPUT naming it, on one line", async (t) => {
  const dir = tempDir(t);
  await assert.rejects(readRequestFile(join(dir, "missing.json"), 1000), isInvalid(/missing\.json: cannot read the request \(ENOENT\)/));
  mkdirSync(join(dir, "folder"));
  await assert.rejects(readRequestFile(join(dir, "folder"), 1000), isInvalid(/folder: cannot read the request \(EISDIR\)/));
});

test("a stream within the cap is read whole; strings and bytes both", async () => {
  assert.equal((await readRequestStream(Readable.from([Buffer.from(REQUEST.slice(0, 10)), REQUEST.slice(10)]), 1000)).toString("utf8"), REQUEST);
});

test("an endless stream is refused once past the cap, and reading stops (the stream is destroyed)", async () => {
  let produced = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const endless = new Readable({
    read() {
      produced++;
      this.push(chunk);
    },
  });
  await assert.rejects(readRequestStream(endless, 1 << 20), isInvalid(/larger than the limit of 1048576 bytes/));
  assert.ok(endless.destroyed, "the stream is destroyed");
  const soFar = produced;
  await new Promise((r) => setImmediate(r));
  assert.equal(produced, soFar, "nothing more is read");
  assert.ok(produced <= 40, `${produced} chunks of 64 KiB read for a 1 MiB cap`);
});
