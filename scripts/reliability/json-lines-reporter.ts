/**
 * A node:test reporter writing one JSON line per finished test (file, name, ok, duration,
 * error message), which `npm run reliability -- faults` collects into its report.
 */
interface TestEventData {
  file?: string;
  name: string;
  nesting: number;
  skip?: boolean | string;
  details: { duration_ms: number; type?: string; error?: { message?: string; cause?: unknown } };
}

export default async function* reporter(source: AsyncIterable<{ type: string; data: TestEventData }>): AsyncGenerator<string> {
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const d = event.data;
    if (d.details.type === "suite" || (d.file && d.name === d.file)) continue;
    const cause = d.details.error?.cause as { message?: string } | undefined;
    yield JSON.stringify({
      file: d.file ?? null,
      name: d.name,
      ok: event.type === "test:pass",
      skipped: Boolean(d.skip),
      ms: Math.round(d.details.duration_ms),
      ...(event.type === "test:fail" ? { error: String(cause?.message ?? d.details.error?.message ?? "failed").slice(0, 2000) } : {}),
    }) + "\n";
  }
}
