/**
 * The normalised-matrix download of GetNormalizedExpression (reference spec §5.17) as CSV
 * text, produced lazily in chunks so the whole file never exists in memory. Layout of the
 * original (data.table::fwrite of the genes x cells `data` layer, with a row-number column):
 *
 *   , ,BARCODE_1,BARCODE_2,...          header: empty field, a single space, one barcode per cell
 *   1,GENE_ID_1,v11,v12,...             row number 1..nGenes, feature id, one value per cell
 *
 * Every gene of the experiment in order; the cells are the selected ones in the data's order.
 * Values are the log-normalised values at full precision (shortest text that reads back as
 * the same double), zeros as `0`. Fields holding a comma, a double quote or a line break are
 * quoted with doubled quotes (fwrite's quote = "auto").
 */
import type { Experiment } from "../../experiment/experiment.ts";
import { normalizedValue } from "../../numerics/normalize.ts";

/** target size of one yielded chunk, in characters */
export const CHUNK_CHARS = 64 * 1024;

export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The CSV text of the selected cells (cell indices, ascending), in chunks of about
 * CHUNK_CHARS characters; `progress` gets the fraction of genes written.
 */
export function* normalizedCsvChunks(exp: Experiment, cells: Int32Array, progress: (fraction: number) => void = () => {}): Generator<string, void, undefined> {
  const m = exp.data.matrix;
  const norm = exp.normalizer;
  const nSel = cells.length;
  const column = new Int32Array(exp.nCells).fill(-1);
  cells.forEach((c, j) => { column[c] = j; });
  let buf = ", ";
  for (const c of cells) {
    buf += "," + csvField(exp.data.barcodes[c]!);
    if (buf.length >= CHUNK_CHARS) { yield buf; buf = ""; }
  }
  buf += "\n";
  // ",0" per cell: runs of zeros are slices of this string
  const zeros = ",0".repeat(nSel);
  const ids = exp.data.genes.ids;
  const { indptr, indices, values } = m;
  for (let g = 0; g < m.nGenes; g++) {
    let row = `${g + 1},${csvField(ids[g]!)}`;
    let next = 0;
    for (let q = indptr[g]!, end = indptr[g + 1]!; q < end; q++) {
      const c = indices[q]!;
      const j = column[c]!;
      if (j < 0) continue;
      const v = normalizedValue(norm, values[q]!, c);
      if (v === 0) continue;
      row += zeros.slice(0, 2 * (j - next)) + "," + String(v);
      next = j + 1;
    }
    buf += row + zeros.slice(0, 2 * (nSel - next)) + "\n";
    if (buf.length >= CHUNK_CHARS) {
      yield buf;
      buf = "";
      progress((g + 1) / m.nGenes);
    }
  }
  if (buf.length > 0) yield buf;
  progress(1);
}
