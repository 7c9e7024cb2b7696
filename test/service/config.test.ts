/** `cellworker serve` configuration: deployments, names of today's Cellenics, labels over environment. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, deploymentOf, loadServiceConfig } from "../../src/config.ts";
import { tempDir } from "../helpers.ts";

const NO_LABELS = { PODINFO_LABELS: "/nonexistent/cellworker/labels" };
const sha1 = (s: string): string => createHash("sha1").update(s).digest("hex");

test("the 2021 deployment keeps its names and defaults", () => {
  const c = loadServiceConfig({ ...NO_LABELS, CLUSTER_ENV: "staging", SANDBOX_ID: "sb" });
  assert.equal(c.deployment, "2021");
  assert.equal(c.queueName, "development-queue.fifo");
  assert.equal(c.sourceBucket, "biomage-source-staging");
  assert.equal(c.resultsBucket, "worker-results-staging");
  assert.equal(c.cellSetsSource, "dynamodb");
  assert.equal(c.topicArn, "arn:aws:sns:eu-west-1:242905224710:work-results-staging-sb");
  assert.equal(c.workTimeoutS, 3600);
  assert.equal(c.redis, null);
  assert.equal(c.workQueueHash, null);
});

test("the deployment: explicit, else current when the pod has a labels file or WORK_QUEUE_HASH", (t) => {
  const dir = tempDir(t);
  const labels = join(dir, "labels");
  writeFileSync(labels, "");
  assert.equal(deploymentOf({ PODINFO_LABELS: labels }), "current");
  assert.equal(deploymentOf({ ...NO_LABELS, WORK_QUEUE_HASH: "abc" }), "current");
  assert.equal(deploymentOf(NO_LABELS), "2021");
  assert.equal(deploymentOf({ PODINFO_LABELS: labels, CELLWORKER_DEPLOYMENT: "2021" }), "2021");
  assert.throws(() => deploymentOf({ CELLWORKER_DEPLOYMENT: "2022" }), ConfigError);
});

test("current deployment in production: names from labels, account and environment (spec §2.1.1)", () => {
  const env = {
    ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current", K8S_ENV: "production", AWS_ACCOUNT_ID: "123456789012", AWS_DEFAULT_REGION: "us-east-1",
    REDIS_URL: "rediss://:pw@master.redis.example:6379", EXPERIMENT_ID: "from-env", SANDBOX_ID: "env-sandbox",
  };
  const c = loadServiceConfig(env, { experimentId: "abc123", sandboxId: "default", workQueueHash: "f00d" });
  assert.equal(c.deployment, "current");
  assert.equal(c.clusterEnv, "production");
  assert.equal(c.experimentId, "abc123", "the label wins over EXPERIMENT_ID");
  assert.equal(c.sandboxId, "default");
  assert.equal(c.queueName, "queue-job-f00d-production.fifo");
  assert.equal(c.sourceBucket, "processed-matrix-production-123456789012");
  assert.equal(c.cellSetsBucket, "cell-sets-production-123456789012");
  assert.equal(c.resultsBucket, "worker-results-production-123456789012");
  assert.equal(c.cellSetsSource, "cell-sets-bucket");
  assert.equal(c.apiUrl, "http://api-default.api-default.svc.cluster.local:3000");
  assert.deepEqual(c.redis, { url: "rediss://:pw@master.redis.example:6379", tls: true, rejectUnauthorized: true });
  assert.equal(c.workTimeoutS, 600);
  assert.equal(c.region, "us-east-1");
});

test("current deployment: the queue hash is sha1(experimentId-sandboxId) when not labelled; HMS production idles 40 min", () => {
  const env = { ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current", K8S_ENV: "production", AWS_ACCOUNT_ID: "160782110667", REDIS_URL: "redis://r:6379" };
  const c = loadServiceConfig(env, { experimentId: "e1", sandboxId: "s1" });
  assert.equal(c.workQueueHash, sha1("e1-s1"));
  assert.equal(c.queueName, `queue-job-${sha1("e1-s1")}-production.fifo`);
  assert.equal(c.workTimeoutS, 2400);
  assert.equal(c.redis!.tls, false);
  assert.equal(loadServiceConfig({ ...env, WORK_TIMEOUT: "30" }, { experimentId: "e1" }).workTimeoutS, 30);
  assert.equal(loadServiceConfig({ ...env, WORK_QUEUE: "mine.fifo" }, { experimentId: "e1" }).queueName, "mine.fifo");
});

test("current deployment, development: local defaults (development queue unless a hash is given, local Redis and API)", () => {
  const c = loadServiceConfig({ ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current" }, { experimentId: "e1" });
  assert.equal(c.queueName, "development-queue.fifo");
  assert.equal(c.resultsBucket, "worker-results-development-000000000000");
  assert.equal(c.redis!.url, "redis://127.0.0.1:6379");
  assert.equal(c.apiUrl, "http://127.0.0.1:3000");
  const hashed = loadServiceConfig({ ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current", CLUSTER_ENV: "test" }, { experimentId: "e1", workQueueHash: "h" });
  assert.equal(hashed.queueName, "queue-job-h-test.fifo");
  const tls = loadServiceConfig({ ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current", REDIS_URL: "rediss://h:1", REDIS_TLS_REJECT_UNAUTHORIZED: "false", API_URL: "http://api:3000/" }, { experimentId: "e1" });
  assert.deepEqual(tls.redis, { url: "rediss://h:1", tls: true, rejectUnauthorized: false });
  assert.equal(tls.apiUrl, "http://api:3000");
});

test("current deployment: staging and production need AWS_ACCOUNT_ID and REDIS_URL; bad values are configuration errors", () => {
  const base = { ...NO_LABELS, CELLWORKER_DEPLOYMENT: "current", CLUSTER_ENV: "staging" };
  assert.throws(() => loadServiceConfig({ ...base, REDIS_URL: "redis://r:1" }, { experimentId: "e" }), /AWS_ACCOUNT_ID/);
  assert.throws(() => loadServiceConfig({ ...base, AWS_ACCOUNT_ID: "1" }, { experimentId: "e" }), /REDIS_URL/);
  assert.throws(() => loadServiceConfig({ ...base, AWS_ACCOUNT_ID: "1", REDIS_URL: "http://r:1" }, { experimentId: "e" }), /redis:\/\//);
  assert.throws(() => loadServiceConfig({ ...base, AWS_ACCOUNT_ID: "1", REDIS_URL: "redis://r:1", REDIS_TLS: "maybe" }, { experimentId: "e" }), /REDIS_TLS/);
  assert.throws(() => loadServiceConfig({ ...base, AWS_ACCOUNT_ID: "1", REDIS_URL: "redis://r:1", API_ATTEMPTS: "0" }, { experimentId: "e" }), /API_ATTEMPTS/);
});
