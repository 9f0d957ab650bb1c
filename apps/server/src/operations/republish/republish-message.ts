import { CHANNELS, type Channel, eventDataFromJson, SCHEMA_SOURCES } from '@touchline/contracts';
import type { RecordedEvent } from '@touchline/event-store';
import { ingestTopics, type OutboundMessage } from '@touchline/messaging';
import { envelopeMessage } from '../../ingest/envelope-message';
import { isSealed } from '../../privacy/crypto/field-cipher';
import { SEALED_STREAM } from '../../privacy/crypto/encrypting-event-store';

/** Headers a republished message carries besides the collector's own. */
export const REPUBLISH_JOB_HEADER = 'touchline-republish-job';
export const GLOBAL_POSITION_HEADER = 'touchline-global-position';
/**
 * The identifier the event arrived with, sealed with its subject's key (the message key is the
 * subject, a pseudonym). Absent for events stored before encryption.
 */
export const SEALED_STREAM_HEADER = 'touchline-sealed-stream-id';

/** Key of the object a sealed JSON-object field (such as `traits`) travels in. */
export const SEALED_JSON_KEY = 'sealed';

/** Top-level fields typed as JSON objects, per `type/version`: a sealed one is a string. */
const JSON_OBJECT_FIELDS = new Map<string, ReadonlySet<string>>(
  SCHEMA_SOURCES.filter((source) => source.kind === 'event').map((source) => {
    const fields = (source.schema['fields'] ?? []) as { name: string; type: unknown }[];
    const isJson = (type: unknown): boolean =>
      Array.isArray(type)
        ? type.some(isJson)
        : typeof type === 'object' &&
          type !== null &&
          (type as { logicalType?: unknown }).logicalType === 'json';
    return [
      `${source.type}/${source.version}`,
      new Set(fields.filter((f) => isJson(f.type)).map((f) => f.name)),
    ];
  }),
);

/**
 * The stored data as the schema takes it: a sealed value in a JSON-object field becomes
 * `{"sealed": "tl:enc:v1:..."}` (the schema wants an object there; it is opened the same way).
 */
function fitSealed(event: RecordedEvent): Record<string, unknown> {
  const jsonFields = JSON_OBJECT_FIELDS.get(`${event.type}/${event.schemaVersion}`);
  if (!jsonFields) return event.data;
  const data: Record<string, unknown> = { ...event.data };
  for (const field of jsonFields) {
    const value = data[field];
    if (isSealed(value)) data[field] = { [SEALED_JSON_KEY]: value };
  }
  return data;
}

/** A stored event that cannot be turned back into its envelope (its metadata or data is off). */
export class UnpublishableEventError extends Error {
  readonly code = 'UNPUBLISHABLE_EVENT';
}

// envelopeMessage picks the channel's ingest topic; a republish replaces it with the job's.
const INGEST_TOPICS = ingestTopics();

/**
 * A stored event as the same Avro envelope the collector published, keyed by its stream id (so
 * one customer's events stay in one partition, in order), on the job's topic. Republish reads the
 * store as stored: the stream id is the subject (a pseudonym) and personal-data fields stay
 * sealed, so a consumer opens them with the subject's key (docs/security.md).
 */
export function republishMessage(
  job: string,
  topic: string,
  event: RecordedEvent,
): OutboundMessage {
  const meta = event.metadata;
  const channel = meta['channel'];
  const occurredAt = dateOf(meta['occurredAt']);
  const receivedAt = dateOf(meta['receivedAt']);
  const sourceId = meta['sourceId'];
  if (
    !isChannel(channel) ||
    !occurredAt ||
    !receivedAt ||
    typeof sourceId !== 'string' ||
    (meta.correlationId !== undefined && typeof meta.correlationId !== 'string')
  ) {
    throw new UnpublishableEventError(
      `The event at position ${event.globalPosition} lacks the envelope fields in its metadata (channel, occurredAt, receivedAt, sourceId)`,
    );
  }
  let data: unknown;
  try {
    data = eventDataFromJson(event.type, event.schemaVersion, fitSealed(event));
  } catch (error) {
    throw new UnpublishableEventError(
      `The event at position ${event.globalPosition} (${event.type} v${event.schemaVersion}) does not fit its schema: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`,
    );
  }
  const message = envelopeMessage(INGEST_TOPICS, {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    channel,
    streamId: event.streamId,
    occurredAt,
    receivedAt,
    sourceId,
    correlationId: meta.correlationId ?? null,
    data,
  });
  return {
    ...message,
    topic,
    headers: {
      ...message.headers,
      [REPUBLISH_JOB_HEADER]: job,
      [GLOBAL_POSITION_HEADER]: event.globalPosition.toString(),
      ...(typeof meta[SEALED_STREAM] === 'string'
        ? { [SEALED_STREAM_HEADER]: meta[SEALED_STREAM] }
        : {}),
    },
  };
}

function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

function dateOf(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
