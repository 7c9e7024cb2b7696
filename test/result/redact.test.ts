/**
 * The request echoed in responses (SNS WorkResponse, `WorkResponse-{ETag}`, the broadcast):
 * no token under any key spelling, at any depth, inside arrays; no token-looking value under
 * an innocent key; everything else intact.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { redactRequest, toWorkResponse } from "../../src/result/response.ts";
import { ROOT } from "../helpers.ts";

const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
const SECRET_MARK = "s3cr3t-value";

/** Every key spelling the attacker reported, plus the other families the redaction promises. */
const SECRET_KEYS = [
  "Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization", "authJWT",
  "access_token", "id_token", "refresh_token", "jwt", "JWT", "sessionToken", "session_id", "x-api-key", "apiKey", "api_key",
  "X-Auth-Token", "client_secret", "password", "passwd", "Cookie", "set-cookie", "credentials", "aws.credential",
  "signature", "X-Amz-Signature", "signedUrl", "signed_url", "private_key", "privateKey", "auth",
];

test("secret keys are removed at any depth, in objects and inside arrays", () => {
  for (const key of SECRET_KEYS) {
    const request = {
      ETag: "abc123",
      [key]: SECRET_MARK,
      body: { name: "ListGenes", nested: { deeper: [{ [key]: SECRET_MARK, keep: 1 }, [{ [key]: { inner: SECRET_MARK } }]] } },
      requestProps: { headers: { [key]: SECRET_MARK } },
    };
    const out = redactRequest(request);
    const text = JSON.stringify(out);
    assert.ok(!text.includes(SECRET_MARK), `${key}: ${text}`);
    assert.deepEqual(out, {
      ETag: "abc123",
      body: { name: "ListGenes", nested: { deeper: [{ keep: 1 }, [{}]] } },
      requestProps: { headers: {} },
    }, key);
  }
});

test("values that look like bearer tokens or JWTs are redacted under any key, also in arrays", () => {
  const request = {
    ETag: "abc123",
    body: { name: "ListGenes", note: `Bearer ${SECRET_MARK}`, list: ["ok", JWT, `bearer ${SECRET_MARK}`], url: `https://x.example/cb?t=${JWT}` },
    extra: { link: `https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA&X-Amz-Signature=${SECRET_MARK}` },
  };
  const out = redactRequest(request) as typeof request;
  const text = JSON.stringify(out);
  assert.ok(!text.includes(SECRET_MARK) && !text.includes("eyJ"), text);
  assert.equal(out.body.name, "ListGenes");
  assert.equal(out.body.list.length, 3, "array positions are kept");
  assert.equal(out.body.list[0], "ok");
  assert.equal(out.body.note, "[redacted]");
});

test("the example requests are echoed unchanged apart from Authorization", () => {
  const dir = join(ROOT, "examples", "requests");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const request = JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown>;
    assert.deepEqual(redactRequest(request), request, f);
    assert.deepEqual(redactRequest({ ...request, Authorization: `Bearer ${JWT}` }), request, f);
    // the same request in today's envelope
    const { uuid, socketId: _, ...rest } = request;
    const current = { ...rest, ETag: "d41d8cd98f00b204e9800998ecf8427e", requestProps: { broadcast: false, cacheUniquenessKey: null }, Authorization: `Bearer ${JWT}` };
    const { Authorization: __, ...expected } = current;
    assert.deepEqual(redactRequest(current), expected, f);
    assert.equal(typeof uuid, "string");
    assert.deepEqual(toWorkResponse(current, { ok: true, data: [], cacheable: true }).request, expected, f);
  }
});

test("ordinary fields that merely resemble secret words are kept", () => {
  const request = {
    uuid: "509520fe-d329-437d-8752-b5868ad59425", socketId: "Y1poEygzBfrDmIWpAAAA", experimentId: "5e959f9c9f4b120771249001",
    timeout: "2099-12-31 00:00:00",
    body: { name: "MarkerHeatmap", cellSetKey: "louvain", nGenes: 5, type: "umap", config: { key: "k", authors: ["a"] } },
    pagination: { orderBy: "gene_names", orderDirection: "asc", offset: 0, limit: 10, filters: [{ type: "text", columnName: "gene_names", expression: "CD" }] },
  };
  assert.deepEqual(redactRequest(request), request);
});

test("__proto__ and constructor keys neither crash nor pollute; they are echoed as data", () => {
  const request = JSON.parse('{"ETag":"e1","__proto__":{"polluted":true,"token":"x"},"body":{"name":"ListGenes","constructor":{"prototype":{"polluted":true}}},"list":[{"__proto__":{"jwt":"y"}}]}') as unknown;
  const out = redactRequest(request) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(out.polluted, undefined, "the copy's prototype is not replaced");
  assert.deepEqual(JSON.parse(JSON.stringify(out)), JSON.parse('{"ETag":"e1","__proto__":{"polluted":true},"body":{"name":"ListGenes","constructor":{"prototype":{"polluted":true}}},"list":[{"__proto__":{}}]}'));
});

test("a very deep value does not overflow the stack and is cut off", () => {
  let deep: unknown = { token: SECRET_MARK };
  for (let i = 0; i < 200_000; i++) deep = i % 2 ? [deep] : { a: deep };
  const out = redactRequest({ ETag: "e", body: { name: "x", deep } });
  const text = JSON.stringify(out);
  assert.ok(!text.includes(SECRET_MARK));
  assert.ok(text.length < 10_000, "bounded copy");
  assert.equal((out as { ETag: string }).ETag, "e");
});
