import { createHash } from 'node:crypto';

/** A UUID-shaped SHA-256 of the parts (version 5 layout), the scheme the collector uses. */
function stableUuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The id of the customer whose earliest-seen identifier is `canonical`. A hash, not the
 * identifier itself, so ids can travel in URLs, logs and read models without carrying an
 * email or a phone number.
 */
export function customerIdFor(canonical: string): string {
  return stableUuid('touchline-customer', canonical);
}

/** The id of the link between two identifiers, the same whichever is named first. */
export function linkIdFor(a: string, b: string): string {
  return a < b ? stableUuid('touchline-link', a, b) : stableUuid('touchline-link', b, a);
}
