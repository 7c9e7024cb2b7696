/**
 * The command line's publisher: the WorkResponse as one JSON line on stdout, or in `--out FILE`.
 * A file result (the normalized-matrix CSV) is written to `--out FILE` as it is, and the
 * response on stdout says `"type": "file"` with that path. Every request is answered, even one
 * without an ETag or uuid: the person at the terminal asked for it.
 */
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { Address, Publisher } from "./publisher.ts";
import { redactRequest, toWorkResponse, type TaskResult, type WorkResponse } from "../result/response.ts";
import { ErrorCode } from "../result/errors.ts";
import { isFileResult } from "../result/file-result.ts";

export class StdoutPublisher implements Publisher {
  private readonly out: string | null;
  private readonly write: (text: string) => void;
  /** the last response sent (the CLI's exit status and error line come from it) */
  response: WorkResponse | null = null;

  constructor(opts: { out?: string | null; write?: (text: string) => void } = {}) {
    this.out = opts.out ?? null;
    this.write = opts.write ?? ((text) => process.stdout.write(text));
  }

  accepts(): boolean {
    return true;
  }

  async publish(to: Address, result: TaskResult): Promise<void> {
    const out = this.out;
    let response: WorkResponse;
    if (result.ok && isFileResult(result.data)) {
      const file = result.data;
      if (out === null) {
        response = toWorkResponse(to.echo, { ok: false, code: ErrorCode.INVALID_INPUT, message: `${to.taskName ?? "This task"} produces a ${file.contentEncoding} ${file.contentType} file: give --out FILE.` });
      } else {
        await pipeline(file.open(), createWriteStream(out));
        response = {
          request: redactRequest(to.echo),
          results: [{ "content-type": file.contentType, "content-encoding": file.contentEncoding, type: "file", body: out }],
          response: { cacheable: false, error: false },
        };
      }
    } else {
      response = toWorkResponse(to.echo, result);
    }
    this.response = response;
    const json = JSON.stringify(response) + "\n";
    if (out !== null && response.results[0]?.type !== "file") await writeFile(out, json);
    else this.write(json);
  }
}
