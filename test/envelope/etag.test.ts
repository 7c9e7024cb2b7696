/** ETags are S3 keys of the current protocol: the envelope accepts only ones safe as a key. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEnvelope } from "../../src/envelope/parse.ts";
import { WorkerError } from "../../src/result/errors.ts";

const request = (ETag: unknown): Record<string, unknown> => ({
  ETag, experimentId: "e", timeout: "2099-12-31T00:00:00Z", body: { name: "ListGenes" },
  requestProps: { broadcast: false, cacheUniquenessKey: null },
});

const BAD = ["../../../etc/passwd", "..", ".", "...", "a/b", "/abs", "", "x".repeat(257), "abc def", "etag\n", "e\\tag", "%2e%2e", "é", "a?b", "\"abc\""];
const GOOD = ["d41d8cd98f00b204e9800998ecf8427e", "abc123", "a:b-c_d.e", "..a", "x".repeat(256)];

test("an ETag that is not 1–256 characters of [A-Za-z0-9._:-], or is . or .., is INVALID_INPUT naming ETag", () => {
  for (const etag of BAD) {
    assert.throws(() => parseEnvelope(request(etag)), (err: unknown) => {
      assert.ok(err instanceof WorkerError, String(err));
      assert.equal(err.code, "INVALID_INPUT");
      assert.match(err.message, /^ETag: /, JSON.stringify(etag));
      assert.ok(!err.message.includes("\n"));
      return true;
    }, JSON.stringify(etag));
  }
});

test("real ETags (md5 hex) and other key-safe ids are accepted as they are", () => {
  for (const etag of GOOD) {
    const env = parseEnvelope(request(etag));
    assert.equal(env.era, "current");
    assert.equal(env.id, etag);
  }
});
