/**
 * A few kill trials (scripts/reliability/kill-trials.ts; the full run of 100 is
 * `npm run reliability -- kill-trials`, report in reliability/kill-trials.json): workers
 * SIGKILLed at random moments while a batch of requests is processed, then a last worker
 * drains the queue. Every request is answered; any duplicate is identical to the first answer.
 * (A request whose message was in flight at every kill is answered with the poison-message
 * error on its fourth delivery: answered, and counted as `poisoned` in the report.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runKillTrials } from "../../scripts/reliability/kill-trials.ts";

test("workers killed at random points: every request answered, duplicates identical", async () => {
  const report = await runKillTrials({ trials: 5, seed: 20261128 });
  const t = report.totals;
  assert.equal(t.trials, 5);
  assert.equal(t.requests, 25);
  assert.equal(t.unanswered, 0, JSON.stringify(report.trials.filter((x) => !x.allAnswered), null, 1));
  assert.equal(t.answered, 25);
  assert.equal(t.nonIdenticalDuplicates, 0);
  assert.equal(t.kills, 15);
  assert.ok(t.duplicates <= t.kills, "at most one duplicate per kill");
});
