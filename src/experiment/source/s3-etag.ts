/**
 * Does a local file match an S3 object's ETag? Single-part ETags are the MD5 of the bytes;
 * multipart ETags are the MD5 of the concatenated part MD5s, suffixed `-N`. The part size is
 * unknown, so the usual ones are tried (8 MiB, 15 MiB, 16 MiB, and size/N rounded up to a MiB),
 * as the original worker did (reference spec §2.6.2).
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";

const MiB = 1024 * 1024;

export async function localMatchesEtag(path: string, etag: string): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return false;
  }
  const clean = etag.replace(/"/g, "");
  const m = /^([0-9a-f]{32})-(\d+)$/i.exec(clean);
  if (!m) return (await md5Parts(path, size, Infinity)).whole === clean.toLowerCase();
  const parts = Number(m[2]);
  const candidates = new Set([8 * MiB, 15 * MiB, 16 * MiB, Math.ceil(size / parts / MiB) * MiB]);
  for (const partSize of candidates) {
    if (partSize <= 0 || Math.ceil(size / partSize) !== parts) continue;
    const { multipart } = await md5Parts(path, size, partSize);
    if (`${multipart}-${parts}` === clean.toLowerCase()) return true;
  }
  return false;
}

/** MD5 of the whole file and the multipart digest for one part size, in one pass. */
async function md5Parts(path: string, size: number, partSize: number): Promise<{ whole: string; multipart: string }> {
  const whole = createHash("md5");
  const partDigests: Buffer[] = [];
  let part = createHash("md5");
  let inPart = 0;
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(4 * MiB);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - read), read);
      if (bytesRead === 0) break;
      let off = 0;
      while (off < bytesRead) {
        const take = Math.min(bytesRead - off, partSize - inPart);
        const chunk = buf.subarray(off, off + take);
        whole.update(chunk);
        part.update(chunk);
        inPart += take;
        off += take;
        if (inPart === partSize) { partDigests.push(part.digest()); part = createHash("md5"); inPart = 0; }
      }
      read += bytesRead;
    }
  } finally {
    await fh.close();
  }
  if (inPart > 0 || partDigests.length === 0) partDigests.push(part.digest());
  return { whole: whole.digest("hex"), multipart: createHash("md5").update(Buffer.concat(partDigests)).digest("hex") };
}
