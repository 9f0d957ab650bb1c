import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from its parts (name-based, like UUID v5 but with SHA-256): the same
 * parts always give the same id. EventStoreDB requires UUID event ids and deduplicates by them,
 * so a Touchline event id always maps to the same EventStoreDB id. Same derivation as the
 * server's `stableUuid` (apps/server/src/common/ids.ts).
 */
export function stableUuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** The EventStoreDB event id of a Touchline event id. */
export const esdbEventId = (eventId: string): string => stableUuid('touchline-event', eventId);
