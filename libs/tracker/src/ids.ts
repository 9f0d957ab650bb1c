/** Random bytes source: `crypto.getRandomValues` in the browser. */
export type FillRandom = (bytes: Uint8Array) => void;

/**
 * A UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost), so plain
 * http pages build one from `getRandomValues`, and very old browsers from Math.random.
 */
export function uuidV4(cryptoApi: Partial<Crypto> | undefined, random: () => number): string {
  if (cryptoApi?.randomUUID) return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  if (cryptoApi?.getRandomValues) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(random() * 256);
  return formatUuidV4(bytes);
}

/** Format 16 random bytes as a UUID, setting the version (4) and variant (10xx) bits. */
export function formatUuidV4(bytes: Uint8Array): string {
  const b = Array.from(bytes, (byte, i) =>
    i === 6 ? (byte & 0x0f) | 0x40 : i === 8 ? (byte & 0x3f) | 0x80 : byte,
  );
  const hex = b.map((byte) => (byte + 0x100).toString(16).slice(1)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
