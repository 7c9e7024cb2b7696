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

test("each task's example body is valid, names the task, and its schema accepts no other name", () => {
  for (const [name, task] of registry) {
    assert.equal(task.example.name, name, `${name}: example names the task`);
    assert.doesNotThrow(() => task.validate(task.example), `${name}: example body is valid`);
    assert.throws(() => task.validate({ ...task.example, name: `${name}X` }), /body\.name/, `${name}: body.name is the literal ${name}`);
    assert.ok(["none", "replace-class", "append-to-scratchpad"].includes(task.effect), `${name}: declared effect`);
  }
});
