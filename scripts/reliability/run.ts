/**
 * `npm run reliability -- <command> [options]`: reliability runs whose JSON reports go to
 * reliability/ (README "Reliability").
 *
 *   faults        the fault-injection tests (AWS down/throttled, damaged data): what held
 *   kill-trials   workers SIGKILLed at random points; every request answered? duplicates?
 *   load-queue    1,000 cheap requests through the emulated queue: throughput, latency, memory
 */
const USAGE = `usage: npm run reliability -- faults [--out FILE]
       npm run reliability -- kill-trials [--trials 100] [--seed 1] [--kills 3] [--batch 5] [--kill-window-ms 250,1000] [--out FILE]
       npm run reliability -- load-queue [--requests 1000] [--seed 1] [--out FILE]`;

const [command, ...rest] = process.argv.slice(2);
let code: number;
try {
  if (command === "faults") code = await (await import("./faults.ts")).main(rest);
  else if (command === "kill-trials") code = await (await import("./kill-trials.ts")).main(rest);
  else if (command === "load-queue") code = await (await import("../../bench/load-queue.ts")).main(rest);
  else {
    process.stderr.write(`${USAGE}\n`);
    code = 2;
  }
} catch (err) {
  process.stderr.write(`reliability: ${(err as Error).message}\n${USAGE}\n`);
  code = 2;
}
process.exitCode = code;
