/** The cell-set PATCH client: headers, retries with backoff, and what a failure reports. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CellenicsApi, CellSetsUpdateError, MERGE_CONTENT_TYPE } from "../../src/publish/api-client.ts";

async function stub(answer: (n: number) => number | "hang"): Promise<{ url: string; seen: { headers: IncomingHttpHeaders; body: string; url: string; at: number }[]; server: Server }> {
  const seen: { headers: IncomingHttpHeaders; body: string; url: string; at: number }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => { body += c.toString(); });
    req.on("end", () => {
      seen.push({ headers: req.headers, body, url: req.url ?? "", at: Date.now() });
      const status = answer(seen.length);
      if (status !== "hang") res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const close = (s: Server): Promise<void> => new Promise((r) => { s.close(() => r()); s.closeAllConnections(); });

test("a PATCH with the merger content type and the user's Authorization; retried after a 5xx", async () => {
  const api = await stub((n) => (n === 1 ? 502 : 200));
  try {
    const client = new CellenicsApi({ baseUrl: api.url, attempts: 3, backoffMs: 40, timeoutMs: 5000 });
    await client.patchCellSets("exp/1", "Bearer t", [{ $prepend: { key: "k" } }]);
    assert.equal(api.seen.length, 2);
    assert.equal(api.seen[0]!.url, "/v2/experiments/exp%2F1/cellSets");
    assert.equal(api.seen[0]!.headers["content-type"], MERGE_CONTENT_TYPE);
    assert.equal(api.seen[0]!.headers.authorization, "Bearer t");
    assert.deepEqual(JSON.parse(api.seen[1]!.body), [{ $prepend: { key: "k" } }]);
    assert.ok(api.seen[1]!.at - api.seen[0]!.at >= 35);
  } finally {
    await close(api.server);
  }
});

test("every non-2xx answer is retried, then reported with the last status", async () => {
  const api = await stub(() => 401);
  try {
    const client = new CellenicsApi({ baseUrl: api.url, attempts: 2, backoffMs: 1, timeoutMs: 5000 });
    await assert.rejects(client.patchCellSets("e", "Bearer t", []), (err: unknown) => {
      assert.ok(err instanceof CellSetsUpdateError);
      assert.equal(err.status, 401);
      assert.equal(err.attempts, 2);
      assert.equal(err.message, "the API answered 401 (2 attempts)");
      return true;
    });
    assert.equal(api.seen.length, 2);
  } finally {
    await close(api.server);
  }
});

test("an unreachable or silent API is a failure too", async () => {
  const gone = await stub(() => 200);
  const url = gone.url;
  await close(gone.server);
  const unreachable = new CellenicsApi({ baseUrl: url, attempts: 2, backoffMs: 1, timeoutMs: 2000 });
  await assert.rejects(unreachable.patchCellSets("e", "Bearer t", []), /could not be reached \(ECONNREFUSED\) \(2 attempts\)/);
  const silent = await stub(() => "hang");
  try {
    const client = new CellenicsApi({ baseUrl: silent.url, attempts: 1, backoffMs: 1, timeoutMs: 150 });
    await assert.rejects(client.patchCellSets("e", "Bearer t", []), /did not answer within 150 ms \(1 attempt\)/);
  } finally {
    await close(silent.server);
  }
});
