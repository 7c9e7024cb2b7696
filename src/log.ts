/**
 * Logging to stderr (stdout is reserved for results). `text` for people at a terminal, `json`
 * (one object per line) for services. Field names that could carry secrets are redacted.
 */
export type LogFields = Record<string, unknown>;
export type Logger = (message: string, fields?: LogFields) => void;

const SECRET = /authorization|token|secret|password|signedurl|jwt/i;

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? "[redacted]" : v;
  return out;
}

export function createLogger(opts: { format: "text" | "json"; quiet?: boolean; write?: (line: string) => void }): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  if (opts.quiet) return () => {};
  if (opts.format === "json") {
    return (message, fields = {}) => write(JSON.stringify({ time: new Date().toISOString(), message, ...redact(fields) }));
  }
  return (message, fields = {}) => {
    const extra = Object.entries(redact(fields)).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
    write(`cellworker: ${message}${extra.length ? ` (${extra.join(", ")})` : ""}`);
  };
}
