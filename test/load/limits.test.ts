/**
 * Gzip bombs and runaway text: every text reader of a 10x folder (barcodes, features,
 * annotations, matrix.mtx) stops at a cap named in a one-line error, instead of holding what a
 * small file unpacks to. Bombs are concatenated gzip members of one compressed block, so a file
 * of a few MB unpacks to hundreds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, openSync, writeSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadTenxMtx, MTX_MAX_BYTES_PER_ENTRY, MTX_MAX_HEADER_BYTES } from "../../src/experiment/load/tenx-mtx.ts";
import { MAX_LINE_BYTES, readLines, TEXT_LIMITS } from "../../src/experiment/load/text.ts";
import { PBMC_SMALL, rejectsNamingFile, tempDir } from "../helpers.ts";

const MiB = 1024 * 1024;

/** A gzip file that unpacks to `head` then `repeat` x `block` (so about repeat x block.length bytes). */
function gzipBomb(path: string, block: Buffer, repeat: number, head = ""): void {
  const member = gzipSync(block, { level: 9 });
  const fd = openSync(path, "w");
  try {
    if (head) writeSync(fd, gzipSync(head));
    for (let i = 0; i < repeat; i++) writeSync(fd, member);
  } finally {
    closeSync(fd);
  }
}

function pbmcSmall(dir: string, except: string[] = []): string {
  for (const f of ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz", "annotations.csv"]) {
    if (!except.includes(f)) copyFileSync(join(PBMC_SMALL, f), join(dir, f));
  }
  return dir;
}

test("a barcodes.tsv.gz bomb (700 MB unpacked) stops at the matrix's column count", async (t) => {
  const dir = pbmcSmall(tempDir(t), ["barcodes.tsv.gz"]);
  gzipBomb(join(dir, "barcodes.tsv.gz"), Buffer.alloc(16 * MiB, "AAACCTGAGAAACCAA-1\n"), 44);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "barcodes.tsv.gz", /has more than 80 lines, but .*matrix\.mtx\.gz has 80 columns/);
});

test("a barcodes or features file with no line breaks stops at the line cap", async (t) => {
  const dir = pbmcSmall(tempDir(t), ["barcodes.tsv.gz"]);
  gzipBomb(join(dir, "barcodes.tsv.gz"), Buffer.alloc(16 * MiB, "A"), 44);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "barcodes.tsv.gz", /line 1 is longer than 1 MiB, the longest line/);
  assert.equal(MAX_LINE_BYTES, MiB);

  const dir2 = pbmcSmall(tempDir(t), ["features.tsv.gz"]);
  gzipBomb(join(dir2, "features.tsv.gz"), Buffer.alloc(16 * MiB, "ENSG\t"), 44, "ENSG1\tA\tGene Expression\n");
  await rejectsNamingFile(loadTenxMtx(dir2), "DATA_INVALID", "features.tsv.gz", /line 2 is longer than 1 MiB/);
});

test("annotations.csv: at most one row per barcode plus the header, lines of at most 1 MiB", async (t) => {
  const dir = pbmcSmall(tempDir(t));
  const extra = "X".repeat(20) + ",1\n";
  writeFileSync(join(dir, "annotations.csv"), "barcode,n\n" + extra.repeat(5000));
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "annotations.csv", /has more than 81 lines, but there are 80 barcodes/);
  writeFileSync(join(dir, "annotations.csv"), "barcode," + "n".repeat(2 * MiB) + "\n");
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "annotations.csv", /line 1 is longer than 1 MiB/);
});

test("the total-size cap of a text file is named (DATA_UNSUPPORTED) and stops the read", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "barcodes.tsv.gz");
  gzipBomb(path, Buffer.alloc(4 * MiB, "AAACCTGAGAAACCAA-1\n"), 8);
  await rejectsNamingFile(readLines(path, { ...TEXT_LIMITS.barcodes, maxBytes: 8 * MiB }), "DATA_UNSUPPORTED", "barcodes.tsv.gz",
    /larger than 8 MiB once unpacked, the most this worker reads for a barcodes file/);
  assert.deepEqual(
    [TEXT_LIMITS.barcodes.maxBytes, TEXT_LIMITS.features.maxBytes, TEXT_LIMITS.annotations.maxBytes].map((b) => b / MiB),
    [128, 64, 512],
  );
  // under the caps, lines come back as before (CRLF and a missing final newline accepted)
  const plain = join(dir, "features.tsv");
  writeFileSync(plain, "a\tA\r\nb\tB\n\nc\tC");
  assert.deepEqual(await readLines(plain, TEXT_LIMITS.features), ["a\tA", "b\tB", "", "c\tC"]);
});

test("matrix.mtx: comment bombs, runaway whitespace and over-long lines stop at caps relative to its size line", async (t) => {
  const features = "g1\tA\tGene Expression\ng2\tB\tGene Expression\n";
  const folder = (): string => {
    const dir = tempDir(t);
    writeFileSync(join(dir, "features.tsv"), features);
    writeFileSync(join(dir, "barcodes.tsv"), "c1\nc2\n");
    return dir;
  };
  const header = "%%MatrixMarket matrix coordinate integer general\n";

  // endless comments before the size line
  let dir = folder();
  gzipBomb(join(dir, "matrix.mtx.gz"), Buffer.alloc(8 * MiB, "% just a comment\n"), 40, header);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx.gz", new RegExp(`no size line in the first ${MTX_MAX_HEADER_BYTES / MiB} MiB`));

  // a header line without an end
  dir = folder();
  gzipBomb(join(dir, "matrix.mtx.gz"), Buffer.alloc(8 * MiB, "%"), 40, header);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx.gz", /line 2 is longer than 1 MiB/);

  // 3 entries, then hundreds of MB of blank lines
  dir = folder();
  gzipBomb(join(dir, "matrix.mtx.gz"), Buffer.alloc(16 * MiB, "\n"), 40, `${header}2 2 3\n1 1 1\n2 2 2\n1 2 3\n`);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx.gz",
    new RegExp(`more than .* of text once unpacked for the 3 entries its size line declares \\(at most ${MTX_MAX_BYTES_PER_ENTRY} bytes an entry`));

  // an entry line of endless spaces
  dir = folder();
  gzipBomb(join(dir, "matrix.mtx.gz"), Buffer.alloc(16 * MiB, " "), 40, `${header}2 3000000 6000000\n1 1 1\n2 `);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx.gz", /line 4 is longer than 1 MiB/);

  // a size line claiming more entries than the matrix has cells, or a huge (but possible) count
  dir = folder();
  writeFileSync(join(dir, "matrix.mtx"), `${header}2 2 5\n1 1 1\n`);
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx", /declares 5 entries, more than a 2 x 2 matrix has/);
  dir = tempDir(t);
  writeFileSync(join(dir, "matrix.mtx"), `${header}2 3000000000 6000000000\n1 1 1\n`);
  writeFileSync(join(dir, "features.tsv"), features);
  writeFileSync(join(dir, "barcodes.tsv"), "c1\nc2\n");
  // not 6e9 entries allocated up front: the file is read, found short, and reported
  await rejectsNamingFile(loadTenxMtx(dir), "DATA_INVALID", "matrix.mtx", /declares 6000000000 entries but holds 1/);
});
