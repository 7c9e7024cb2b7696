/** Calls `onLine` for every complete line a stream (a child's stderr) produces. */
import type { Readable } from "node:stream";

export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let buffer = "";
  stream.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
}
