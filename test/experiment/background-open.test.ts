/**
 * A serving open of an input not yet cached (background: true) returns once requests can be
 * answered and builds the value order, then writes the processed-state cache, in the
 * background: a comparison asked meanwhile waits for the order and answers exactly as after a
 * plain open; once settled, the cache holds the same state and the next open is a hit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { openExperiment } from "../../src/experiment/open.ts";
import { runTask } from "../../src/compute/run-task.ts";
import type { GeneValueOrder } from "../../src/numerics/stats/gene-value-order.ts";
import { PBMC_SMALL, tempDir } from "../helpers.ts";

const DE = { name: "DifferentialExpression", cellSet: "louvain-0", compareWith: "rest", basis: "all" } as const;

test("a cold open in the background: DE waits for the value order and answers as a plain open does; the cache is written after", async (t) => {
  const plain = await openExperiment({ path: PBMC_SMALL, cacheDir: null });
  const want = await runTask(plain, { body: DE });
  assert.ok(want.ok);
  assert.ok(plain.state.valueOrder, "a plain open builds the value order before it returns");

  const cacheDir = tempDir(t);
  const logs: string[] = [];
  const exp = await openExperiment({ path: PBMC_SMALL, cacheDir, background: true, log: (m) => logs.push(m) });
  assert.equal(exp.cache.status, "built");
  assert.equal(exp.state.valueOrder, undefined, "the value order is left to the background");
  assert.equal(exp.cache.file !== null && existsSync(exp.cache.file), false, "the cache is written after the value order");
  // other tasks answer at once; DE waits for the order
  assert.ok((await runTask(exp, { body: { name: "ListGenes", selectFields: ["gene_names"], orderBy: "gene_names", orderDirection: "ASC", offset: 0, limit: 5 } })).ok);
  assert.deepEqual(await runTask(exp, { body: DE }), want);
  // (read through a function: the assertion above narrowed the field to undefined)
  const order = ((): GeneValueOrder | undefined => exp.state.valueOrder)();
  assert.ok(order);
  assert.deepEqual(order.cells, plain.state.valueOrder.cells);

  await exp.settled();
  assert.ok(exp.cache.file !== null && existsSync(exp.cache.file));
  assert.ok(logs.some((m) => m.startsWith("value order built in the background")), logs.join("\n"));
  assert.ok(logs.some((m) => m.startsWith("processed-state cache written")), logs.join("\n"));
  const next = await openExperiment({ path: PBMC_SMALL, cacheDir });
  assert.equal(next.cache.status, "hit");
  await next.valueOrderReady();
  assert.deepEqual(next.state.valueOrder?.cells, plain.state.valueOrder.cells);
  assert.deepEqual(await runTask(next, { body: DE }), want);
});
