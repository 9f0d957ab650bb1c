/** Where the given event ids are stored already: tells a repeat from a conflict. */
export const findStoredEventsSql = `
SELECT event_id, stream_id, stream_version
FROM event_store.events
WHERE event_id = ANY($1::text[])`;

export interface StoredEventRow {
  readonly event_id: string;
  readonly stream_id: string;
  readonly stream_version: string;
}
