import { type Channel, encodeEnvelope, encodeValidatedEventData } from '@touchline/contracts';
import type { IngestTopics, OutboundMessage } from '@touchline/messaging';

export interface EventToPublish {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly channel: Channel;
  /** The identifier the event arrived with: its stream in the store and its Kafka key. */
  readonly streamId: string;
  readonly occurredAt: Date;
  readonly receivedAt: Date;
  readonly sourceId: string;
  readonly correlationId: string | null;
  /** Must be the value validateEventData returned as valid: it is not validated again. */
  readonly data: unknown;
}

/** An event as an Avro envelope on its channel's topic, keyed by its identifier. */
export function envelopeMessage(topics: IngestTopics, event: EventToPublish): OutboundMessage {
  return {
    topic: topics.channel(event.channel),
    key: event.streamId,
    value: encodeEnvelope({
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      channel: event.channel,
      streamId: event.streamId,
      occurredAt: event.occurredAt,
      receivedAt: event.receivedAt,
      sourceId: event.sourceId,
      correlationId: event.correlationId,
      data: encodeValidatedEventData(event.type, event.schemaVersion, event.data),
    }),
    headers: {
      'content-type': 'application/avro',
      'touchline-event-type': `${event.type}.v${event.schemaVersion}`,
    },
  };
}
