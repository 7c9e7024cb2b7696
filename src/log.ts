/**
 * Logging to stderr (stdout is reserved for results). `text` for people at a terminal, `json`
 * (one object per line) for services. Field names that could carry secrets are redacted by the
 * same rule that leaves them out of echoed requests (`isSecretKey`, result/response.ts).
 *
 * One call is always exactly one line: messages and field values carry text from requests
 * (task names, experiment ids, error messages), so in text mode every control character
 * (C0, DEL, C1, U+2028/U+2029) is written as an escape (`\n`, `\r`, `\t`, `\u001b`, …); in
 * JSON mode the line is JSON with the same characters escaped (it parses back to the same
 * values). A field JSON cannot represent (a BigInt, a cycle) is written as its string form.
 */
import { isSecretKey } from "./result/response.ts";

export type LogFields = Record<string, unknown>;
export type Logger = (message: string, fields?: LogFields) => void;

const REDACTED = "[redacted]";

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** What JSON.stringify leaves unescaped of CONTROL (it escapes C0 itself). */
const JSON_UNESCAPED = /[\u007f-\u009f\u2028\u2029]/g;
const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` with control characters written as escapes: never more than one line. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => SHORT[c] ?? unicodeEscape(c));
}

/** JSON, or null when the value cannot be written as JSON. */
function tryJson(value: unknown): string | null {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : text;
  } catch {
    return null;
  }
}

/** String(value), which can throw (an object without a prototype). */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "[unprintable]";
  }
}

function redact(fields: LogFields): [string, unknown][] {
  return Object.entries(fields).map(([k, v]) => [k, isSecretKey(k) ? REDACTED : v]);
}

export function createLogger(opts: { format: "text" | "json"; quiet?: boolean; write?: (line: string) => void }): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  if (opts.quiet) return () => {};
  if (opts.format === "json") {
    return (message, fields = {}) => {
      const entries = redact(fields);
      const head: [string, unknown][] = [["time", new Date().toISOString()], ["message", message]];
      const line = tryJson(Object.fromEntries([...head, ...entries]))
        ?? JSON.stringify(Object.fromEntries([...head, ...entries.map(([k, v]): [string, unknown] => [k, tryJson(v) === null ? safeString(v) : v])]));
      write(line.replace(JSON_UNESCAPED, unicodeEscape));
    };
  }
  return (message, fields = {}) => {
    const extra = redact(fields).map(([k, v]) => `${escapeControls(k)}=${escapeControls(typeof v === "string" ? v : (tryJson(v) ?? safeString(v)))}`);
    write(`cellworker: ${escapeControls(message)}${extra.length ? ` (${extra.join(", ")})` : ""}`);
  };
}
