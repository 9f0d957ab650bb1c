import { CHANNELS, type Channel, eventDataFromJson } from '@touchline/contracts';
import type { RecordedEvent } from '@touchline/event-store';
import { ingestTopics, type OutboundMessage } from '@touchline/messaging';
import { envelopeMessage } from '../../ingest/envelope-message';

/** Headers a republished message carries besides the collector's own. */
export const REPUBLISH_JOB_HEADER = 'touchline-republish-job';
export const GLOBAL_POSITION_HEADER = 'touchline-global-position';

/** A stored event that cannot be turned back into its envelope (its metadata or data is off). */
export class UnpublishableEventError extends Error {
  readonly code = 'UNPUBLISHABLE_EVENT';
}

// envelopeMessage picks the channel's ingest topic; a republish replaces it with the job's.
const INGEST_TOPICS = ingestTopics();

/**
 * A stored event as the same Avro envelope the collector published, keyed by its stream id (so
 * one customer's events stay in one partition, in order), on the job's topic.
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
    data = eventDataFromJson(event.type, event.schemaVersion, event.data);
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
