/**
 * The architecture of src/ (README "Architecture"), checked by `npm test` before the test runner:
 *   npx depcruise src --config .dependency-cruiser.mjs
 * Exits non-zero on any violation. Type-only imports count like any other import.
 *
 * The layers, bottom to top. A file may import its own layer and the layers below it, never one
 * above; a few layers are narrower still (see NARROWER). Paths that match no file yet (e.g.
 * src/retry.ts, src/pipeline/) are fine: a rule whose paths match nothing never fires.
 */

// TypeScript 7 (the native port) has no JavaScript compiler API for dependency-cruiser to parse
// .ts with, so it parses with swc. Without @swc/core it would skip every .ts file and pass on
// nothing: importing it here makes a missing or broken @swc/core an error instead.
await import("@swc/core");

/** @type {Array<{ name: string, path: string }>} */
const LAYERS = [
  { name: "numerics", path: "^src/numerics/" },
  { name: "result", path: "^src/result/" },
  { name: "common", path: "^src/(config|log|retry)[.]ts$" },
  { name: "experiment", path: "^src/experiment/" },
  { name: "tasks", path: "^src/tasks/" },
  { name: "compute", path: "^src/compute/" },
  { name: "envelope", path: "^src/envelope/" },
  { name: "transport", path: "^src/transport/" },
  { name: "publish", path: "^src/publish/" },
  // the request pipeline: the folder, and the single file until it is gone
  { name: "pipeline", path: "^src/pipeline(/|[.]ts$)" },
  { name: "service", path: "^src/service/" },
  { name: "cli", path: "^src/cli[.]ts$" },
];

const pathOf = (name) => {
  const layer = LAYERS.find((l) => l.name === name);
  if (!layer) throw new Error(`.dependency-cruiser.mjs: no layer ${name}`);
  return layer.path;
};
const anyOf = (names) => names.map(pathOf);

/** Layers that must not import some layers below them (the old architecture test's table). */
const NARROWER = [
  {
    from: "result",
    not: ["numerics"],
    comment: "results are plain data: they do not depend on the numerics",
  },
  {
    from: "envelope",
    not: ["numerics", "experiment", "tasks", "compute"],
    comment: "the envelope is parsed before anything is loaded or computed",
  },
  {
    from: "transport",
    not: ["numerics", "result", "experiment", "tasks", "compute", "envelope"],
    comment: "a transport moves messages: of the app it imports only log/retry/config",
  },
  {
    from: "publish",
    not: ["numerics", "experiment", "tasks", "compute", "transport"],
    comment: "publishing sends finished results: it does not load, compute or receive",
  },
];

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `${layer.name}-not-upward`,
  comment: `${layer.name} imports only the layers below it (${LAYERS.slice(0, i).map((l) => l.name).join(", ") || "none"})`,
  severity: "error",
  from: { path: layer.path },
  to: { path: LAYERS.slice(i + 1).map((l) => l.path) },
}));

const narrowerRules = NARROWER.map(({ from, not, comment }) => ({
  name: `${from}-not-${not.join("-")}`,
  comment,
  severity: "error",
  from: { path: pathOf(from) },
  to: { path: anyOf(not) },
}));

/** @type {import("dependency-cruiser").IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycles in src/ (type-only imports included)",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...layerRules,
    ...narrowerRules,
    {
      name: "common-only-builtins",
      comment: "config.ts, log.ts and retry.ts import only each other, result/ (below them) and node builtins",
      severity: "error",
      from: { path: pathOf("common") },
      to: { pathNot: [pathOf("common"), pathOf("result")], dependencyTypesNot: ["core"] },
    },
    {
      name: "no-unlayered-src",
      comment: "every file of src/ belongs to a layer above (add a new folder to LAYERS)",
      severity: "error",
      from: { path: "^src/", pathNot: LAYERS.map((l) => l.path) },
      to: {},
    },
    {
      name: "no-import-of-unlayered-src",
      comment: "every file of src/ belongs to a layer above (add a new folder to LAYERS)",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/", pathNot: LAYERS.map((l) => l.path) },
    },
    {
      name: "only-numerics-scran-imports-scran-js",
      comment: "scran.js (Wasm) is wrapped by numerics/scran.ts alone",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/numerics/scran[.]ts$" },
      to: { path: "^node_modules/scran[.]js/" },
    },
    {
      name: "only-hdf5-imports-h5wasm",
      comment: "h5wasm is wrapped by experiment/load/hdf5.ts alone",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/experiment/load/hdf5[.]ts$" },
      to: { path: "^node_modules/h5wasm/" },
    },
    {
      name: "src-not-to-tooling",
      comment: "src/ is the product: it does not import dev and test tooling",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(tools|scripts|test|bench|fuzz)/" },
    },
    {
      name: "src-not-to-dev-dep",
      comment: "src/ runs in the image, which installs only the dependencies (NODE_ENV=production)",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"] },
    },
    {
      name: "src-not-to-undeclared-package",
      comment: "every package src/ imports is in package.json dependencies",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown", "npm-optional", "npm-peer"] },
    },
    {
      name: "src-not-to-unresolvable",
      comment: "an import that resolves to no file",
      severity: "error",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: "swc",
    doNotFollow: { path: "(^|/)node_modules/" },
    moduleSystems: ["es6", "cjs"],
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
