/**
 * Gene-name text filters as the Cellenics UI and the 2021 API send them, parsed into a plain
 * (mode, text) pair and matched as literal text, case-insensitively. Nothing the user types is
 * ever compiled as a regular expression (ReDoS) or put into a query.
 *
 * Forms understood:
 *  - current UI: `^TEXT` starts with, `TEXT$` ends with, `^TEXT$` is exactly, `TEXT` contains;
 *  - 2021 SQL LIKE: `%TEXT%` contains, `TEXT%` starts with, `%TEXT` ends with.
 * A leading `^`/`%` and a trailing `$`/`%` are the only markers; every other character,
 * including `.*+?()[]{}|\_` and a `%` or `^` inside the text, is literal.
 */

export type NameFilterMode = "prefix" | "suffix" | "contains" | "exact";

export interface NameFilter {
  mode: NameFilterMode;
  /** the literal text to look for, lower-cased */
  text: string;
}

/** Parses a filter pattern (see the file header for the forms). */
export function parseNameFilter(pattern: string): NameFilter {
  let text = pattern;
  let lead: "^" | "%" | "" = "";
  let trail: "$" | "%" | "" = "";
  if (text.startsWith("^") || text.startsWith("%")) {
    lead = text[0] as "^" | "%";
    text = text.slice(1);
  }
  if (text.endsWith("$") || text.endsWith("%")) {
    trail = text[text.length - 1] as "$" | "%";
    text = text.slice(0, -1);
  }
  // SQL LIKE: a side without `%` is anchored; UI form: a side is anchored only by `^` / `$`.
  const sql = lead === "%" || trail === "%";
  const anchoredStart = lead === "^" || (sql && lead === "");
  const anchoredEnd = trail === "$" || (sql && trail === "");
  const mode: NameFilterMode = anchoredStart
    ? (anchoredEnd ? "exact" : "prefix")
    : (anchoredEnd ? "suffix" : "contains");
  return { mode, text: text.toLowerCase() };
}

/** Whether an already lower-cased name matches the filter. */
export function matchesLower(filter: NameFilter, lowerName: string): boolean {
  switch (filter.mode) {
    case "prefix": return lowerName.startsWith(filter.text);
    case "suffix": return lowerName.endsWith(filter.text);
    case "contains": return lowerName.includes(filter.text);
    case "exact": return lowerName === filter.text;
  }
}

/** A case-insensitive predicate for a filter pattern. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  const filter = parseNameFilter(pattern);
  return (name) => matchesLower(filter, name.toLowerCase());
}
