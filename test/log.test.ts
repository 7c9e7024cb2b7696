/**
 * One log call is exactly one line, whatever the request put in a message or field (task
 * names, experiment ids, error messages): in text mode control characters are escaped; in
 * JSON mode the line parses back to the same values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { isSecretKey } from "../src/result/response.ts";

/** Every character some tool treats as a line break, plus other controls (ESC starts terminal sequences). */
const HOSTILE = "exp\nFORGED: cellworker: request done\r\nx\u2028y\u2029z\u0085w\u000b\u000c\u001b[31mred\u0000\u007f\u009b\tend";
const LINE_BREAK = /[\n\r\u000b\u000c\u001c-\u001e\u0085\u2028\u2029]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function capture(format: "text" | "json"): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ format, write: (line) => lines.push(line) }) };
}

test("text mode: a newline or other control character in the message or any field cannot start a new line", () => {
  const { lines, log } = capture("text");
  log(`invalid request ${HOSTILE}`, { experimentId: HOSTILE, task: `ListGenes\n${HOSTILE}`, nested: { name: HOSTILE }, list: [HOSTILE], [`key\n${HOSTILE}`]: 1 });
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.doesNotMatch(line, LINE_BREAK);
  assert.doesNotMatch(line, CONTROL);
  assert.ok(line.startsWith("cellworker: invalid request exp\\nFORGED: cellworker: request done\\r\\nx\\u2028y\\u2029z\\u0085w"), line);
  assert.match(line, /experimentId=exp\\nFORGED/);
  assert.match(line, /\\u001b\[31mred\\u0000\\u007f\\u009b\\tend/);
});

test("text mode: ordinary messages and fields are written as before", () => {
  const { lines, log } = capture("text");
  log("request done", { task: "ListGenes", experimentId: "5e959f9c9f4b120771249001", ms: 12, outcome: "ok", extra: { a: [1, "b"] }, Authorization: "Bearer x" });
  assert.deepEqual(lines, ['cellworker: request done (task=ListGenes, experimentId=5e959f9c9f4b120771249001, ms=12, outcome=ok, extra={"a":[1,"b"]}, Authorization=[redacted])']);
  log("plain, with unicode é 😀 and a \\ backslash");
  assert.equal(lines[1], "cellworker: plain, with unicode é 😀 and a \\ backslash");
});

test("JSON mode: one line that parses back to the same message and field values", () => {
  const { lines, log } = capture("json");
  log(`invalid request ${HOSTILE}`, { experimentId: HOSTILE, nested: { name: HOSTILE, list: [HOSTILE] } });
  assert.equal(lines.length, 1);
  assert.doesNotMatch(lines[0]!, LINE_BREAK);
  assert.doesNotMatch(lines[0]!, CONTROL);
  const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(parsed.message, `invalid request ${HOSTILE}`);
  assert.equal(parsed.experimentId, HOSTILE);
  assert.deepEqual(parsed.nested, { name: HOSTILE, list: [HOSTILE] });
  assert.equal(typeof parsed.time, "string");
});

test("fields JSON cannot represent (BigInt, cycles) still give one line in either mode, never a throw", () => {
  const cyclic: Record<string, unknown> = { name: "a\nb" };
  cyclic.self = cyclic;
  for (const format of ["text", "json"] as const) {
    const { lines, log } = capture(format);
    log("odd fields", { big: 10n, cyclic, fine: "x\ny" });
    assert.equal(lines.length, 1, format);
    assert.doesNotMatch(lines[0]!, LINE_BREAK);
    assert.match(lines[0]!, /big/);
    if (format === "json") assert.equal((JSON.parse(lines[0]!) as { fine: string }).fine, "x\ny");
  }
});

test("secret-looking field names are redacted in both modes (the same names as in echoed requests)", () => {
  for (const format of ["text", "json"] as const) {
    const { lines, log } = capture(format);
    log("m", { authorization: "val-auth-1", sessionToken: "val-sess-2", x_api_key: "val-key-3", "Set-Cookie": "val-cookie-4", task: "ListGenes" });
    assert.doesNotMatch(lines[0]!, /val-/, format);
    assert.match(lines[0]!, /ListGenes/);
  }
});

test("log fields and echoed requests treat the same names as secret (one rule, result/response.ts)", () => {
  const secret = ["Authorization", "Proxy-Authorization", "authJWT", "access_token", "id_token", "jwt", "sessionToken", "x-api-key", "apiKey",
    "X-Auth-Token", "client_secret", "password", "passwd", "pwd", "Cookie", "credentials", "X-Amz-Signature", "signedUrl", "private_key", "auth", "basic_auth"];
  const plain = ["task", "experimentId", "ETag", "uuid", "author", "key", "cellSetKey", "message", "error", "id", "ms", "outcome"];
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (line) => lines.push(line) });
  log("fields", Object.fromEntries([...secret, ...plain].map((k) => [k, "v"])));
  const logged = JSON.parse(lines[0]!) as Record<string, unknown>;
  for (const name of secret) { assert.equal(isSecretKey(name), true, name); assert.equal(logged[name], "[redacted]", name); }
  for (const name of plain) { assert.equal(isSecretKey(name), false, name); assert.equal(logged[name], "v", name); }
});
