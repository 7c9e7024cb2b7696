/** Request text → value: the size cap before JSON.parse, a UTF-8 BOM, invalid JSON. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnvelope, parseRequestText } from "../../src/envelope/parse.ts";
import { isInvalid, ROOT } from "../helpers.ts";


const EXAMPLE = readFileSync(join(ROOT, "examples", "requests", "list-genes.json"));

test("an example request parses from a string and from bytes", () => {
  const expected = JSON.parse(EXAMPLE.toString("utf8")) as unknown;
  assert.deepEqual(parseRequestText(EXAMPLE), expected);
  assert.deepEqual(parseRequestText(EXAMPLE.toString("utf8")), expected);
  assert.equal(parseEnvelope(parseRequestText(EXAMPLE)).body.name, "ListGenes");
});

test("a request with a UTF-8 BOM is read (bytes or decoded text)", () => {
  const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), EXAMPLE]);
  assert.equal(parseEnvelope(parseRequestText(withBom)).body.name, "ListGenes");
  assert.equal(parseEnvelope(parseRequestText(withBom.toString("utf8"))).body.name, "ListGenes");
});

test("a request over the byte limit is refused before it is parsed, naming the limit", () => {
  const limits = { maxDepth: 32, maxBytes: 1000 };
  // not JSON at all: only the size can be the reason
  for (const text of ["x".repeat(1001), Buffer.alloc(1001, 0x78)]) {
    assert.throws(() => parseRequestText(text, limits), isInvalid(/larger than the limit of 1000 bytes/));
  }
  // 600 characters, 1200 bytes of UTF-8: bytes are what count
  assert.throws(() => parseRequestText(JSON.stringify({ a: "é".repeat(600) }), limits), isInvalid(/limit of 1000 bytes/));
  assert.deepEqual(parseRequestText(JSON.stringify({ a: "x".repeat(990) }), limits), { a: "x".repeat(990) });
  // JSON.parse is never called on refused text
  const original = JSON.parse;
  let parses = 0;
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => { parses++; return original(...args); }) as typeof JSON.parse;
  try {
    assert.throws(() => parseRequestText(`[${"1,".repeat(600)}1]`, limits), isInvalid(/limit/));
  } finally {
    JSON.parse = original;
  }
  assert.equal(parses, 0);
});

test("text that is not JSON is INVALID_INPUT 'request is not valid JSON'", () => {
  for (const text of ["", "{", "{'a': 1}", "\uFEFF\uFEFF{}", Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])]) {
    assert.throws(() => parseRequestText(text), isInvalid(/^request is not valid JSON$/), JSON.stringify(String(text)));
  }
});

test("parseEnvelope takes the parsed value: a string is not a request object", () => {
  assert.throws(() => parseEnvelope(EXAMPLE.toString("utf8")), isInvalid(/must be a JSON object/));
});
