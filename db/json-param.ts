/**
 * A value as one JSON text parameter for `json_to_recordset(…::text::json)` (a parameter typed json would be JSON-encoded again by the driver, as a string): set-based writes of many rows without
 * an array per column (each array element is escaped again by the driver; JSON.stringify writes each string
 * once). A lone UTF-16 surrogate (half an emoji from a provider) is written by JSON.stringify as a `\udXXX`
 * escape, which Postgres refuses; it becomes U+FFFD, as the driver's UTF-8 encoding of a text parameter does.
 */
export function jsonParam(value: unknown): string {
  return storableJsonText(JSON.stringify(value));
}

/**
 * JSON text Postgres json/jsonb accepts. JSON.stringify escapes only lone surrogates (a pair is written as the
 * characters themselves) and control characters, but other JSON text may escape a pair (`\ud83d\ude00`), which
 * jsonb accepts and is kept; an even run of backslashes before `u` is text, not an escape.
 * A lone surrogate becomes U+FFFD; U+0000 (jsonb refuses `\u0000`, a carrier's scan text may hold one) is dropped.
 */
export function storableJsonText(text: string): string {
  let out = text;
  if (out.includes('\\ud') || out.includes('\\uD')) {
    out = out.replace(/(?<!\\)((?:\\\\)*)(\\u[dD][89abAB][0-9a-fA-F]{2}(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2})/g, (_m, run: string, esc: string, low?: string) =>
      low ? run + esc : `${run}\ufffd`,
    );
  }
  if (out.includes('\\u0000')) out = out.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1');
  return out;
}
