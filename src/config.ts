/**
 * Settings that come from the environment, read once into a plain object.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** Default processed-state cache folder: $CELLWORKER_CACHE_DIR, else $XDG_CACHE_HOME/cellworker, else ~/.cache/cellworker. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CELLWORKER_CACHE_DIR) return env.CELLWORKER_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "cellworker");
}

export function logFormat(env: NodeJS.ProcessEnv = process.env, fallback: "text" | "json" = "text"): "text" | "json" {
  const f = env.CELLWORKER_LOG_FORMAT;
  return f === "json" || f === "text" ? f : fallback;
}
