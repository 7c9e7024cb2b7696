/**
 * Child process of `npm run bench -- load`: opens one experiment and prints
 * {ms, cache, peakRssMiB} as JSON, so each measurement starts from a cold process.
 */
import { openExperiment } from "../src/experiment/open.ts";

const [path, cacheDir] = process.argv.slice(2);
const started = performance.now();
const exp = await openExperiment({ path: path!, cacheDir: cacheDir! });
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ms: Math.round(ms), cache: exp.cache.status, cells: exp.nCells, genes: exp.nGenes, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }) + "\n");
