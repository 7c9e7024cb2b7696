import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { registry, PLANNED_TASKS } from "../../src/tasks/registry.ts";
import { ROOT } from "../helpers.ts";

const kebab = (name: string): string =>
  name.replace(/([a-z])([A-Z])/g, "$1-$2").replace(/([A-Z])([A-Z][a-z])/g, "$1-$2").toLowerCase();

test("every task lives in the file named after its wire name", () => {
  assert.ok(registry.size >= 5);
  for (const [name, task] of registry) {
    assert.equal(task.name, name);
    assert.ok(existsSync(join(ROOT, "src", "tasks", `${kebab(name)}.ts`)), `${kebab(name)}.ts for ${name}`);
  }
});

test("no task is both registered and planned", () => {
  for (const name of PLANNED_TASKS) assert.ok(!registry.has(name), name);
});
