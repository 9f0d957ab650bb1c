import { jsonEvent, type EventData as EsdbEventData } from '@eventstore/db-client';
import type { EventMetadata, NewEvent } from '@touchline/event-store';
import { esdbEventId } from './stable-uuid';

/** What the adapter stores beside each event, under `touchline` in EventStoreDB metadata. */
export interface TouchlineMarks {
  /** Our event id; EventStoreDB's own id is a UUID derived from it. */
  readonly eventId: string;
  readonly schemaVersion: number;
  /** Random per append attempt: tells a write of ours from an idempotent repeat of another's. */
  readonly appendId: string;
  /** Index of the event inside its append: the append's first event is `revision - offset`. */
  readonly offset: number;
}

export interface StoredMetadata {
  readonly touchline: TouchlineMarks;
  readonly metadata: EventMetadata;
  /** Copies for EventStoreDB's own $by_correlation_id projection and UI. */
  readonly $correlationId?: string;
  readonly $causationId?: string;
}

export function toEsdbEvent(event: NewEvent, appendId: string, offset: number): EsdbEventData {
  const metadata = event.metadata ?? {};
  const stored: StoredMetadata = {
    touchline: { eventId: event.eventId, schemaVersion: event.schemaVersion, appendId, offset },
    metadata,
    ...(typeof metadata.correlationId === 'string' && { $correlationId: metadata.correlationId }),
    ...(typeof metadata.causationId === 'string' && { $causationId: metadata.causationId }),
  };
  return jsonEvent({
    id: esdbEventId(event.eventId),
    type: event.type,
    data: { ...event.data },
    metadata: { ...stored },
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  !ArrayBuffer.isView(value);

/** The adapter's marks on a stored event; undefined for events it did not write. */
export function readStoredMetadata(metadata: unknown): StoredMetadata | undefined {
  if (!isObject(metadata) || !isObject(metadata.touchline)) return undefined;
  const { eventId, schemaVersion, appendId, offset } = metadata.touchline;
  if (
    typeof eventId !== 'string' ||
    typeof schemaVersion !== 'number' ||
    typeof appendId !== 'string' ||
    typeof offset !== 'number'
  ) {
    return undefined;
  }
  return {
    touchline: { eventId, schemaVersion, appendId, offset },
    metadata: isObject(metadata.metadata) ? metadata.metadata : {},
  };
}
