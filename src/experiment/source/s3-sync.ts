/**
 * Mirrors an experiment's objects (`{experimentId}/…` in the source bucket) into a local folder.
 * An object is downloaded only when its ETag differs from the local copy, to a temporary file
 * that is renamed into place once complete, so a half-downloaded file is never loaded.
 * Local files that are no longer in the bucket are deleted (before downloading), so the folder
 * always equals the prefix: a `matrix.mtx.gz` replaced by `matrix.mtx`, or a deleted
 * `annotations.csv`, is not read from a stale local copy.
 */
import { createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { localMatchesEtag } from "./s3-etag.ts";
import { ErrorCode, WorkerError } from "../../result/errors.ts";

export interface SyncResult {
  /** local folder holding the experiment's files */
  dir: string;
  /** keys (relative to the experiment prefix) downloaded this time */
  downloaded: string[];
  /** local files (relative to `dir`) deleted this time because they are no longer in the bucket */
  removed: string[];
  /** relative names of all objects present */
  files: string[];
}

/** The part of a sync result that names the files (also built from a folder listing). */
export type SyncFiles = Pick<SyncResult, "dir" | "files"> & Partial<SyncResult>;

/** What was verified last time, so unchanged files are not re-hashed on every request. */
export type SyncMemo = Map<string, { etag: string; size: number; mtimeMs: number }>;

export async function syncExperiment(opts: { s3: S3Client; bucket: string; experimentId: string; dataDir: string; memo?: SyncMemo }): Promise<SyncResult> {
  const memo = opts.memo ?? new Map();
  const { s3, bucket, experimentId } = opts;
  if (!/^[A-Za-z0-9._-]{1,256}$/.test(experimentId) || /^\.+$/.test(experimentId)) {
    throw new WorkerError(ErrorCode.INVALID_INPUT, `experiment id "${experimentId.slice(0, 80)}" is not a valid id`);
  }
  const dir = resolve(opts.dataDir, experimentId);
  const prefix = `${experimentId}/`;
  const objects: { key: string; etag: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key && (o.Size ?? 0) > 0 && !o.Key.endsWith("/")) objects.push({ key: o.Key, etag: o.ETag ?? "", size: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (objects.length === 0) {
    memo.clear();
    await removeStale(dir, new Set());
    throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `No data for experiment ${experimentId} in s3://${bucket}/${prefix}`);
  }
  const downloaded: string[] = [];
  const files: string[] = [];
  const wanted: { o: (typeof objects)[number]; rel: string; local: string }[] = [];
  for (const o of objects) {
    const rel = o.key.slice(prefix.length);
    const local = resolve(dir, rel);
    // keys are user-controlled paths: never write outside the experiment folder
    if (relative(dir, local).startsWith("..") || !local.startsWith(dir + sep)) continue;
    files.push(rel);
    wanted.push({ o, rel, local });
  }
  const keep = new Set(wanted.map((w) => w.local));
  for (const local of memo.keys()) if (!keep.has(local)) memo.delete(local);
  const removed = await removeStale(dir, keep);
  for (const { o, rel, local } of wanted) {
    const known = memo.get(local);
    const info = await stat(local).catch(() => null);
    if (known && info && known.etag === o.etag && known.size === info.size && known.mtimeMs === info.mtimeMs) continue;
    if (!(info && (await localMatchesEtag(local, o.etag)))) {
      await download(s3, bucket, o.key, local);
      downloaded.push(rel);
    }
    const now = await stat(local);
    memo.set(local, { etag: o.etag, size: now.size, mtimeMs: now.mtimeMs });
  }
  return { dir, downloaded, removed, files };
}

/** A download in progress (`download`'s temporary name); another process's may be running. */
const PART = /\.\d+\.\d+\.part$/;
/** Temporary files older than this are left-overs of a crashed download (a live one keeps writing). */
const STALE_PART_MS = 60 * 60 * 1000;

/**
 * Deletes every file under `dir` that is not in `keep` (absolute paths), and folders left
 * empty; returns the deleted files relative to `dir`. Symbolic links are removed, never followed.
 * Temporary download files are removed only when abandoned, and are not reported.
 */
async function removeStale(dir: string, keep: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (folder: string): Promise<boolean> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
      throw err;
    }
    let empty = true;
    for (const e of entries) {
      const p = join(folder, e.name);
      if (e.isDirectory()) {
        if (await walk(p)) await rmdir(p).catch(() => { empty = false; });
        else empty = false;
        continue;
      }
      if (keep.has(p)) { empty = false; continue; }
      if (PART.test(e.name)) {
        const info = await lstat(p).catch(() => null);
        if (info && Date.now() - info.mtimeMs < STALE_PART_MS) { empty = false; continue; }
        await rm(p, { force: true });
        continue;
      }
      await rm(p, { force: true });
      removed.push(relative(dir, p));
    }
    return empty;
  };
  await walk(dir);
  return removed.sort();
}

async function download(s3: S3Client, bucket: string, key: string, local: string): Promise<void> {
  await mkdir(dirname(local), { recursive: true });
  const tmp = `${local}.${process.pid}.${Date.now()}.part`;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await pipeline(out.Body as Readable, createWriteStream(tmp));
    await rename(tmp, local);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The data file or folder among synced files: h5ad (python.h5ad first), then the Seurat object
 * (r.rds; r.qs, which is then refused as unsupported, only when there is no r.rds), then .h5,
 * then a 10x folder. A 2021 prefix holds python.h5ad and a pagoda2 r.rds: the h5ad wins.
 */
export function dataPathOf(sync: SyncFiles): string | null {
  const names = sync.files;
  const pick = names.find((f) => f === "python.h5ad") ?? names.find((f) => f.endsWith(".h5ad")) ??
    names.find((f) => f === "r.rds") ?? names.find((f) => f === "r.qs") ?? names.find((f) => /\.(h5|hdf5)$/.test(f));
  if (pick) return join(sync.dir, pick);
  const mtx = names.find((f) => /(^|\/)matrix\.mtx(\.gz)?$/.test(f));
  return mtx ? dirname(join(sync.dir, mtx)) : null;
}

/** A cell-sets JSON among the synced files, if any. */
export function cellSetsFileOf(sync: SyncFiles): string | null {
  const f = sync.files.find((n) => /^(cell[-_]?sets)\.json$/i.test(n));
  return f ? join(sync.dir, f) : null;
}
