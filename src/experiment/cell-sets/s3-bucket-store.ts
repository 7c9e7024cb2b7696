/**
 * Cell sets of today's Cellenics (reference spec §2.6.1, §3.1): the object
 * `cell-sets-{env}-{account}/{experimentId}` holding `{"cellSets": CellClass[]}`, written by the
 * pipeline and the API and read fresh for every request (no caching: another user may have
 * changed them since). A missing object means "none stored".
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ErrorCode, WorkerError } from "../../result/errors.ts";
import { parseCellSetsFile, type CellClass } from "./cell-sets.ts";
import type { CellSetStore } from "./store.ts";

export class S3BucketCellSetStore implements CellSetStore {
  private readonly s3: S3Client;
  private readonly bucket: string;
  constructor(s3: S3Client, bucket: string) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  async load(experimentId: string): Promise<CellClass[] | null> {
    let text: string;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: experimentId }));
      text = (await out.Body?.transformToString("utf8")) ?? "";
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
      const sets = parseCellSetsFile(json);
      return sets.length > 0 ? sets : null;
    } catch {
      throw new WorkerError(ErrorCode.DATA_INVALID, `The cell sets stored for experiment ${experimentId} (s3://${this.bucket}/${experimentId}) are not valid Cellenics cell sets.`);
    }
  }
}
