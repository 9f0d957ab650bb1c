import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from its parts (name-based, like UUID v5 but with SHA-256), the same
 * scheme as the collector's: a provider retrying a webhook yields the same ids, so the event
 * store keeps one copy.
 */
export function touchpointEventId(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}
