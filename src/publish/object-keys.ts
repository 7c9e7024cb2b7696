/**
 * Object keys built from request ids (a 2021 uuid, a current ETag): ids come from users, so a
 * key never holds anything but a safe alphabet, never `/`, and never `.` or `..` alone.
 */

/** The id made safe to be one path segment of an object key (other characters become `_`). */
export function safeObjectKey(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200);
  return cleaned === "" || /^\.+$/.test(cleaned) ? "request" : cleaned;
}

/** Whether an id can be used as a key as it is: 1–256 of [A-Za-z0-9._:-], not dots alone. */
export function isSafeObjectKey(id: string): boolean {
  return /^[A-Za-z0-9._:-]{1,256}$/.test(id) && !/^\.+$/.test(id);
}
