/** Request headers as web frameworks give them: any case, a value or a list of values. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The single value of a header, case-insensitively; null when absent or sent more than once. */
export function headerValue(headers: HeaderBag, name: string): string | null {
  const wanted = name.toLowerCase();
  let found: string | null = null;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    const values = typeof value === 'string' ? [value] : value;
    for (const v of values) {
      if (found !== null) return null;
      found = v;
    }
  }
  return found;
}

export function bodyText(rawBody: string | Uint8Array): string {
  return typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
}

export function bodyBytes(rawBody: string | Uint8Array): Buffer {
  return typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
}
