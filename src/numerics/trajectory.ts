/**
 * Trajectory numerics: a SimplePPT-style principal tree on a 2-D embedding and pseudotime along
 * it, after monocle3's `learn_graph` (SimplePPT, no loop closure) and `order_cells`.
 *
 * 1. Nodes: k-means (Lloyd) of the cells, started from cells at evenly spaced indices as
 *    monocle3 starts its k-means; empty clusters are dropped. The node count follows monocle3
 *    (cells - 1 up to 1 000 cells, round(5000 ln n / (ln n + ln 1000)) above) capped at
 *    `maxNodes` (default 300), so that the dense per-iteration work stays O(cells x nodes).
 * 2. SimplePPT (Mao et al. 2015), monocle3's defaults: up to 10 iterations of
 *    - the minimum spanning tree B of the nodes (squared Euclidean distances),
 *    - soft assignment R of cells to nodes, R_ij ∝ exp(-|x_i - y_j|^2 / sigma), sigma = 0.01,
 *    - node update (2 L + gamma diag(colSums R)) Y = gamma R^T X, gamma = 0.5, L = the tree's
 *      Laplacian, solved exactly in O(nodes) by eliminating leaves towards the root (a tree's
 *      Laplacian plus a diagonal has no fill-in),
 *    stopping when the objective changes by less than eps = 1e-5 (relative).
 * 3. Pruning as monocle3's `pruneTree_in_learnGraph`: from a depth-first walk started at a tip,
 *    every side subtree hanging off a branch node whose longest path has fewer than
 *    `minimalBranchLen` (10) nodes is removed (one pass, on the unpruned tree).
 * 4. Projection: each cell goes to its nearest node, then to the closest point of the segments
 *    from that node to its neighbours (monocle3's `project2MST`).
 * 5. Pseudotime: the distance along the tree from the nearest root node to the cell's
 *    projection (Dijkstra over the nodes from all roots, then along the cell's edge).
 *
 * Everything is deterministic: no random numbers are drawn, ties go to the lowest index.
 * Arrays in, arrays out; coordinates are cells x 2 row-major.
 */

export interface PrincipalGraphOptions {
  /** most nodes (default 300); fewer when there are fewer distinct cells */
  maxNodes?: number;
  /** SimplePPT iterations (monocle3: maxiter = 10) */
  maxIter?: number;
  /** relative objective change that stops the iterations (monocle3: eps = 1e-5) */
  eps?: number;
  /** weight of the data term against the tree's length (monocle3: L1.gamma = 0.5) */
  gamma?: number;
  /** soft-assignment bandwidth, squared embedding units (monocle3: L1.sigma = 0.01) */
  sigma?: number;
  /** side branches whose longest path has fewer nodes are pruned (monocle3: 10) */
  minimalBranchLen?: number;
  /** Lloyd iterations for the initial nodes */
  kmeansIter?: number;
}

export const TRAJECTORY_DEFAULTS = {
  maxNodes: 300,
  maxIter: 10,
  eps: 1e-5,
  gamma: 0.5,
  sigma: 0.01,
  minimalBranchLen: 10,
  kmeansIter: 100,
} as const;

/** A principal tree: node coordinates (nNodes x 2 row-major) and its edges as (u, v) pairs with u < v. */
export interface PrincipalGraph {
  nNodes: number;
  nodes: Float64Array;
  edges: Int32Array;
}

/** Each cell's place on the tree: the edge (u, v) it was projected on, the fraction t from u, and the point. */
export interface Projection {
  edgeU: Int32Array;
  edgeV: Int32Array;
  t: Float64Array;
  points: Float64Array;
}

/** monocle3's node count for n cells (cells - 1 up to 1 000 cells), before the cap. */
export function monocleNodeCount(n: number): number {
  if (n <= 1000) return Math.max(1, n - 1);
  return Math.round((5 * 1000 * Math.log(n)) / (Math.log(n) + Math.log(1000)));
}

/** Learns the principal tree of n cells' 2-D coordinates. */
export function learnPrincipalGraph(coords: Float64Array, n: number, options: PrincipalGraphOptions = {}): PrincipalGraph {
  const opt = { ...TRAJECTORY_DEFAULTS, ...options };
  if (n < 1) throw new RangeError("learnPrincipalGraph: no cells");
  if (coords.length < 2 * n) throw new RangeError("learnPrincipalGraph: coordinates shorter than 2 x cells");
  const k = Math.max(1, Math.min(monocleNodeCount(n), opt.maxNodes, n));
  let nodes = kmeans(coords, n, k, opt.kmeansIter);
  let nNodes = nodes.length / 2;

  let prevObj = NaN;
  for (let iter = 0; iter < opt.maxIter; iter++) {
    const tree = minimumSpanningTree(nodes, nNodes);
    const assign = softAssign(coords, n, nodes, nNodes, opt.sigma);
    const obj = tree.totalSquared + opt.gamma * assign.objective;
    if (iter > 0 && Math.abs(prevObj - obj) / Math.abs(prevObj) < opt.eps) break;
    prevObj = obj;
    nodes = solveTreeSystem(tree, nNodes, assign.mass, assign.weighted, opt.gamma);
  }

  const tree = minimumSpanningTree(nodes, nNodes);
  const keep = pruneSideBranches(tree.adjacency, nNodes, opt.minimalBranchLen);
  // re-index the kept nodes in their order
  const newIndex = new Int32Array(nNodes).fill(-1);
  let kept = 0;
  for (let v = 0; v < nNodes; v++) if (keep[v]) newIndex[v] = kept++;
  const outNodes = new Float64Array(2 * kept);
  const edges: number[] = [];
  for (let v = 0; v < nNodes; v++) {
    if (!keep[v]) continue;
    outNodes[2 * newIndex[v]!] = nodes[2 * v]!;
    outNodes[2 * newIndex[v]! + 1] = nodes[2 * v + 1]!;
    for (const w of tree.adjacency[v]!) if (w > v && keep[w]) edges.push(newIndex[v]!, newIndex[w]!);
  }
  nNodes = kept;
  return { nNodes, nodes: outNodes, edges: Int32Array.from(edges) };
}

/** For each node i, the neighbours j > i in ascending order (the Cellenics `connectedNodes`). */
export function connectedNodes(graph: PrincipalGraph): number[][] {
  const out: number[][] = Array.from({ length: graph.nNodes }, () => []);
  for (let e = 0; e < graph.edges.length; e += 2) {
    const a = graph.edges[e]!, b = graph.edges[e + 1]!;
    out[Math.min(a, b)]!.push(Math.max(a, b));
  }
  for (const list of out) list.sort((a, b) => a - b);
  return out;
}

/** Projects each cell onto the tree: nearest node, then the closest point of that node's edges. */
export function projectCells(graph: PrincipalGraph, coords: Float64Array, n: number): Projection {
  const adj = adjacencyOf(graph);
  const { nodes } = graph;
  const edgeU = new Int32Array(n), edgeV = new Int32Array(n), t = new Float64Array(n), points = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = coords[2 * i]!, y = coords[2 * i + 1]!;
    const u = nearestNode(nodes, graph.nNodes, x, y);
    const ux = nodes[2 * u]!, uy = nodes[2 * u + 1]!;
    let best = Infinity, bestV = u, bestT = 0, px = ux, py = uy;
    for (const v of adj[u]!) {
      const dx = nodes[2 * v]! - ux, dy = nodes[2 * v + 1]! - uy;
      const len2 = dx * dx + dy * dy;
      let s = len2 > 0 ? ((x - ux) * dx + (y - uy) * dy) / len2 : 0;
      s = s < 0 ? 0 : s > 1 ? 1 : s;
      const qx = ux + s * dx, qy = uy + s * dy;
      const d = (x - qx) ** 2 + (y - qy) ** 2;
      if (d < best) { best = d; bestV = v; bestT = s; px = qx; py = qy; }
    }
    edgeU[i] = u; edgeV[i] = bestV; t[i] = bestT; points[2 * i] = px; points[2 * i + 1] = py;
  }
  return { edgeU, edgeV, t, points };
}

/**
 * Geodesic distance from the nearest of `roots` (node indices) to each cell's projection, along
 * the tree. Infinity for a cell whose edge no root reaches (never, on one tree).
 */
export function pseudotime(graph: PrincipalGraph, projection: Projection, roots: readonly number[]): Float64Array {
  const dist = nodeDistances(graph, roots);
  const { nodes } = graph;
  const n = projection.t.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = projection.edgeU[i]!, v = projection.edgeV[i]!;
    const len = Math.hypot(nodes[2 * v]! - nodes[2 * u]!, nodes[2 * v + 1]! - nodes[2 * u + 1]!);
    const s = projection.t[i]!;
    out[i] = Math.min(dist[u]! + s * len, dist[v]! + (1 - s) * len);
  }
  return out;
}

/** Distance along the tree (Euclidean edge lengths) from the nearest root to every node. */
export function nodeDistances(graph: PrincipalGraph, roots: readonly number[]): Float64Array {
  const adj = adjacencyOf(graph);
  const { nodes, nNodes } = graph;
  const dist = new Float64Array(nNodes).fill(Infinity);
  const done = new Uint8Array(nNodes);
  for (const r of roots) {
    if (!Number.isInteger(r) || r < 0 || r >= nNodes) throw new RangeError(`nodeDistances: root ${r} is not a node`);
    dist[r] = 0;
  }
  // O(nodes^2) Dijkstra: node counts are small
  for (;;) {
    let u = -1;
    for (let v = 0; v < nNodes; v++) if (!done[v] && dist[v]! < Infinity && (u < 0 || dist[v]! < dist[u]!)) u = v;
    if (u < 0) break;
    done[u] = 1;
    for (const v of adj[u]!) {
      const d = dist[u]! + Math.hypot(nodes[2 * v]! - nodes[2 * u]!, nodes[2 * v + 1]! - nodes[2 * u + 1]!);
      if (d < dist[v]!) dist[v] = d;
    }
  }
  return dist;
}

// ---------------------------------------------------------------------------------------------

/** Lloyd's k-means from cells at evenly spaced indices; empty clusters are dropped. k x 2 row-major. */
export function kmeans(coords: Float64Array, n: number, k: number, maxIter: number): Float64Array {
  let centers = new Float64Array(2 * k);
  for (let j = 0; j < k; j++) {
    const i = k === 1 ? 0 : Math.round((j * (n - 1)) / (k - 1));
    centers[2 * j] = coords[2 * i]!;
    centers[2 * j + 1] = coords[2 * i + 1]!;
  }
  const label = new Int32Array(n).fill(-1);
  const sum = new Float64Array(2 * k), count = new Float64Array(k);
  for (let iter = 0; iter < maxIter; iter++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const j = nearestNode(centers, k, coords[2 * i]!, coords[2 * i + 1]!);
      if (j !== label[i]) { label[i] = j; changed++; }
    }
    if (changed === 0 && iter > 0) break;
    sum.fill(0); count.fill(0);
    for (let i = 0; i < n; i++) {
      const j = label[i]!;
      sum[2 * j] = sum[2 * j]! + coords[2 * i]!;
      sum[2 * j + 1] = sum[2 * j + 1]! + coords[2 * i + 1]!;
      count[j] = count[j]! + 1;
    }
    for (let j = 0; j < k; j++) {
      if (count[j]! > 0) { centers[2 * j] = sum[2 * j]! / count[j]!; centers[2 * j + 1] = sum[2 * j + 1]! / count[j]!; }
    }
  }
  // drop centres without cells (duplicate starting cells end up sharing their cells)
  count.fill(0);
  for (let i = 0; i < n; i++) count[label[i]!] = count[label[i]!]! + 1;
  const kept: number[] = [];
  for (let j = 0; j < k; j++) if (count[j]! > 0) kept.push(centers[2 * j]!, centers[2 * j + 1]!);
  centers = Float64Array.from(kept);
  return centers;
}

function nearestNode(nodes: Float64Array, k: number, x: number, y: number): number {
  let best = 0, bestD = Infinity;
  for (let j = 0; j < k; j++) {
    const d = (nodes[2 * j]! - x) ** 2 + (nodes[2 * j + 1]! - y) ** 2;
    if (d < bestD) { bestD = d; best = j; }
  }
  return best;
}

interface SpanningTree {
  /** Prim's order: every node after its parent */
  order: Int32Array;
  /** parent in that order (-1 for the first node) */
  parent: Int32Array;
  adjacency: number[][];
  /** sum of the squared edge lengths */
  totalSquared: number;
}

/** Prim's minimum spanning tree on squared Euclidean distances, O(k^2), ties to the lowest index. */
export function minimumSpanningTree(nodes: Float64Array, k: number): SpanningTree {
  const inTree = new Uint8Array(k);
  const best = new Float64Array(k).fill(Infinity);
  const from = new Int32Array(k).fill(-1);
  const order = new Int32Array(k), parent = new Int32Array(k).fill(-1);
  const adjacency: number[][] = Array.from({ length: k }, () => []);
  let total = 0;
  best[0] = 0;
  for (let step = 0; step < k; step++) {
    let u = -1;
    for (let v = 0; v < k; v++) if (!inTree[v] && (u < 0 || best[v]! < best[u]!)) u = v;
    inTree[u] = 1;
    order[step] = u;
    parent[u] = from[u]!;
    if (from[u]! >= 0) {
      adjacency[u]!.push(from[u]!);
      adjacency[from[u]!]!.push(u);
      total += best[u]!;
    }
    const ux = nodes[2 * u]!, uy = nodes[2 * u + 1]!;
    for (let v = 0; v < k; v++) {
      if (inTree[v]) continue;
      const d = (nodes[2 * v]! - ux) ** 2 + (nodes[2 * v + 1]! - uy) ** 2;
      if (d < best[v]!) { best[v] = d; from[v] = u; }
    }
  }
  return { order, parent, adjacency, totalSquared: total };
}

/**
 * Soft assignment of cells to nodes with bandwidth sigma: per node the total weight (mass) and
 * the weighted sum of coordinates (R^T X), and SimplePPT's entropy-regularised objective
 * -sigma sum_i log sum_j exp(-d_ij / sigma). Weights below 1e-300 relative to a cell's nearest
 * node are zero (exp underflows there anyway).
 */
function softAssign(coords: Float64Array, n: number, nodes: Float64Array, k: number, sigma: number): { mass: Float64Array; weighted: Float64Array; objective: number } {
  const mass = new Float64Array(k), weighted = new Float64Array(2 * k);
  const d = new Float64Array(k);
  const cutoff = 690 * sigma;
  let objective = 0;
  for (let i = 0; i < n; i++) {
    const x = coords[2 * i]!, y = coords[2 * i + 1]!;
    let dmin = Infinity;
    for (let j = 0; j < k; j++) {
      const dj = (nodes[2 * j]! - x) ** 2 + (nodes[2 * j + 1]! - y) ** 2;
      d[j] = dj;
      if (dj < dmin) dmin = dj;
    }
    let z = 0;
    for (let j = 0; j < k; j++) {
      const e = d[j]! - dmin;
      if (e <= cutoff) z += Math.exp(-e / sigma);
    }
    for (let j = 0; j < k; j++) {
      const e = d[j]! - dmin;
      if (e > cutoff) continue;
      const r = Math.exp(-e / sigma) / z;
      mass[j] = mass[j]! + r;
      weighted[2 * j] = weighted[2 * j]! + r * x;
      weighted[2 * j + 1] = weighted[2 * j + 1]! + r * y;
    }
    objective += -sigma * Math.log(z) + dmin;
  }
  return { mass, weighted, objective };
}

/**
 * Solves (2 L + gamma diag(mass)) Y = gamma weighted for both coordinates, L the tree's
 * Laplacian: leaves are eliminated into their parents in reverse Prim order, then the values
 * are filled in from the first node down. Exact, O(k), no fill-in. The matrix is positive
 * definite when any node has mass (every cell gives mass 1 in total).
 */
function solveTreeSystem(tree: SpanningTree, k: number, mass: Float64Array, weighted: Float64Array, gamma: number): Float64Array {
  const diag = new Float64Array(k), bx = new Float64Array(k), by = new Float64Array(k);
  for (let v = 0; v < k; v++) {
    diag[v] = 2 * tree.adjacency[v]!.length + gamma * mass[v]!;
    bx[v] = gamma * weighted[2 * v]!;
    by[v] = gamma * weighted[2 * v + 1]!;
  }
  for (let s = k - 1; s > 0; s--) {
    const v = tree.order[s]!, p = tree.parent[v]!;
    diag[p] = diag[p]! - 4 / diag[v]!;
    bx[p] = bx[p]! + (2 * bx[v]!) / diag[v]!;
    by[p] = by[p]! + (2 * by[v]!) / diag[v]!;
  }
  const out = new Float64Array(2 * k);
  for (let s = 0; s < k; s++) {
    const v = tree.order[s]!, p = tree.parent[v]!;
    const px = p >= 0 ? out[2 * p]! : 0, py = p >= 0 ? out[2 * p + 1]! : 0;
    out[2 * v] = (bx[v]! + (p >= 0 ? 2 * px : 0)) / diag[v]!;
    out[2 * v + 1] = (by[v]! + (p >= 0 ? 2 * py : 0)) / diag[v]!;
  }
  return out;
}

/**
 * Which nodes survive pruning: a depth-first walk from the first tip (degree 1); at every
 * branch node (degree > 2) each subtree below it whose longest path has fewer than
 * `minimalBranchLen` nodes is removed. Trees with fewer nodes than that are kept whole.
 */
export function pruneSideBranches(adjacency: readonly number[][], k: number, minimalBranchLen: number): Uint8Array {
  const keep = new Uint8Array(k).fill(1);
  if (k < minimalBranchLen) return keep;
  let start = adjacency.findIndex((a) => a.length === 1);
  if (start < 0) start = 0;
  const parent = new Int32Array(k).fill(-1);
  const order: number[] = [];
  const seen = new Uint8Array(k);
  const stack = [start];
  seen[start] = 1;
  while (stack.length > 0) {
    const u = stack.pop()!;
    order.push(u);
    for (const v of adjacency[u]!) if (!seen[v]) { seen[v] = 1; parent[v] = u; stack.push(v); }
  }
  // per node: height (nodes on the longest downward path) and the longest path within its subtree
  const height = new Int32Array(k), longest = new Int32Array(k);
  for (let s = order.length - 1; s >= 0; s--) {
    const u = order[s]!;
    let h1 = 0, h2 = 0, inner = 0;
    for (const v of adjacency[u]!) {
      if (v === parent[u]) continue;
      const h = height[v]!;
      if (h > h1) { h2 = h1; h1 = h; } else if (h > h2) h2 = h;
      if (longest[v]! > inner) inner = longest[v]!;
    }
    height[u] = h1 + 1;
    longest[u] = Math.max(inner, h1 + h2 + 1);
  }
  const remove = (root: number): void => {
    const todo = [root];
    while (todo.length > 0) {
      const u = todo.pop()!;
      keep[u] = 0;
      for (const v of adjacency[u]!) if (v !== parent[u]) todo.push(v);
    }
  };
  for (const u of order) {
    if (adjacency[u]!.length <= 2 || parent[u]! < 0) continue;
    for (const v of adjacency[u]!) if (v !== parent[u] && longest[v]! < minimalBranchLen) remove(v);
  }
  return keep;
}

function adjacencyOf(graph: PrincipalGraph): number[][] {
  const adj: number[][] = Array.from({ length: graph.nNodes }, () => []);
  for (let e = 0; e < graph.edges.length; e += 2) {
    adj[graph.edges[e]!]!.push(graph.edges[e + 1]!);
    adj[graph.edges[e + 1]!]!.push(graph.edges[e]!);
  }
  return adj;
}
