/**
 * Where results are stored: a bucket, as far as the publishers need one. `S3ObjectStore` is the
 * real one (AWS SDK v3: PutObject for bytes, a multipart Upload for streams so a large file
 * result is never whole in memory); the fuzzer gives the publishers an in-memory store so that
 * every request goes through the same publishing code the worker runs.
 */
import type { Readable } from "node:stream";
import { HeadObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

export interface PutOptions {
  contentType?: string;
  /** object tags; sent with the upload and again as PutObjectTagging */
  tags?: Record<string, string>;
}

export interface ObjectStore {
  /** the bucket's name, for `bucket/key` references */
  readonly bucket: string;
  put(key: string, body: Uint8Array | string | Readable, opts?: PutOptions): Promise<void>;
  /** the object's size, or null when there is no object under `key` */
  sizeOf(key: string): Promise<number | null>;
}

export class S3ObjectStore implements ObjectStore {
  private readonly s3: S3Client;
  readonly bucket: string;

  constructor(s3: S3Client, bucket: string) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  async put(key: string, body: Uint8Array | string | Readable, opts: PutOptions = {}): Promise<void> {
    const tags = Object.entries(opts.tags ?? {});
    const params = {
      Bucket: this.bucket,
      Key: key,
      ...(opts.contentType ? { ContentType: opts.contentType } : {}),
      ...(tags.length ? { Tagging: new URLSearchParams(tags).toString() } : {}),
    };
    if (typeof body === "string" || body instanceof Uint8Array) {
      await this.s3.send(new PutObjectCommand({ ...params, Body: body }));
    } else {
      try {
        await new Upload({ client: this.s3, params: { ...params, Body: body }, queueSize: 2, partSize: 8 * 1024 * 1024 }).done();
      } finally {
        body.destroy(); // stops the producer if the upload failed half-way
      }
    }
    // the tags also as PutObjectTagging, as the original did (emulators without tagging headers honour it)
    if (tags.length) {
      await this.s3.send(new PutObjectTaggingCommand({ Bucket: this.bucket, Key: key, Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) } }));
    }
  }

  async sizeOf(key: string): Promise<number | null> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }
}
