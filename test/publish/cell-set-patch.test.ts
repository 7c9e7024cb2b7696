/** The API PATCH bodies for cell-set changes made by tasks (reference spec §3.4). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellSetPatchOf, classQuery } from "../../src/publish/cell-set-patch.ts";
import { registry } from "../../src/tasks/registry.ts";

const cls = {
  key: "louvain", name: "louvain clusters", rootNode: true, type: "cellSets",
  children: [
    { key: "louvain-0", name: "Cluster 0", rootNode: false, type: "cellSets", color: "#77aadd", cellIds: [0, 2] },
    { key: "louvain-1", name: "Cluster 1", rootNode: false, type: "cellSets", color: "#ee8866", cellIds: Int32Array.from([1, 3]) },
  ],
};

test("ClusterCells: remove the class with its key, then prepend the new class", () => {
  const patch = cellSetPatchOf({ effect: "replace-class", data: cls });
  assert.equal(JSON.stringify(patch), JSON.stringify([
    { $match: { query: '$[?(@.key == "louvain")]', value: { $remove: true } } },
    { $prepend: { ...cls, children: [cls.children[0], { ...cls.children[1], cellIds: [1, 3] }] } },
  ]), "typed-array cell ids become a JSON array");
});

test("GetExpressionCellSets: append the new set to scratchpad's children", () => {
  const set = { key: "0b5e1c5e-0000-4000-8000-000000000000", name: "CST3>0.5", rootNode: false, color: "#77aadd", cellIds: [5, 8, 13] };
  assert.deepEqual(cellSetPatchOf({ effect: "append-to-scratchpad", data: set }), [
    { $match: { query: '$[?(@.key == "scratchpad")]', value: { children: [{ $insert: { index: "-", value: set } }] } } },
  ]);
});

test("keys are quoted safely in the JSONPath query; tasks declare their effects; wrong shapes throw", () => {
  assert.equal(classQuery('a"b\\c'), '$[?(@.key == "a\\"b\\\\c")]');
  assert.equal(registry.get("ClusterCells")?.effect, "replace-class");
  assert.equal(registry.get("GetExpressionCellSets")?.effect, "append-to-scratchpad");
  const writers = [...registry.values()].filter((t) => t.effect !== "none").map((t) => t.name).sort();
  assert.deepEqual(writers, ["CellCycleScoring", "ClusterCells", "GetExpressionCellSets"]);
  assert.throws(() => cellSetPatchOf({ effect: "replace-class", data: { key: "louvain" } }));
  assert.throws(() => cellSetPatchOf({ effect: "append-to-scratchpad", data: { key: "x", name: "y", cellIds: [-1] } }));
});
