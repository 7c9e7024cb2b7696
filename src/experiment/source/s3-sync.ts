/**
 * Mirrors an experiment's objects (`{experimentId}/…` in the source bucket) into a local folder.
 * An object is downloaded only when its ETag differs from the local copy, to a temporary file
 * that is renamed into place once complete, so a half-downloaded file is never loaded.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
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
  /** relative names of all objects present */
  files: string[];
}

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
    throw new WorkerError(ErrorCode.DATA_NOT_FOUND, `No data for experiment ${experimentId} in s3://${bucket}/${prefix}`);
  }
  const downloaded: string[] = [];
  const files: string[] = [];
  for (const o of objects) {
    const rel = o.key.slice(prefix.length);
    const local = resolve(dir, rel);
    // keys are user-controlled paths: never write outside the experiment folder
    if (relative(dir, local).startsWith("..") || !local.startsWith(dir + sep)) continue;
    files.push(rel);
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
  return { dir, downloaded, files };
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

/** The data file or folder among synced files: h5ad (python.h5ad first), then .h5, then a 10x folder. */
export function dataPathOf(sync: SyncResult): string | null {
  const names = sync.files;
  const pick = names.find((f) => f === "python.h5ad") ?? names.find((f) => f.endsWith(".h5ad")) ?? names.find((f) => /\.(h5|hdf5)$/.test(f));
  if (pick) return join(sync.dir, pick);
  const mtx = names.find((f) => /(^|\/)matrix\.mtx(\.gz)?$/.test(f));
  return mtx ? dirname(join(sync.dir, mtx)) : null;
}

/** A cell-sets JSON among the synced files, if any. */
export function cellSetsFileOf(sync: SyncResult): string | null {
  const f = sync.files.find((n) => /^(cell[-_]?sets)\.json$/i.test(n));
  return f ? join(sync.dir, f) : null;
}
