import {
  decodedEventDataToJson,
  decodeEnvelopeOrThrow,
  decodeEventDataOrThrow,
} from '@touchline/contracts';
import type { EventStore, NewEvent, StreamBatch } from '@touchline/event-store';
import type { IngestTopics, InboundMessage } from '@touchline/messaging';
import { observationFromEvent } from '@touchline/identity';
import type { Logger } from 'pino';
import { stableUuid } from '../common/ids';
import { type DeadLetter, newDeadLetter, parseDeadLetter } from '../dead-letters/dead-letter';
import type { DeadLetterStore } from '../dead-letters/dead-letter.store';
import {
  deadLettersStored,
  eventsSuppressed,
  recorderDuplicatesSkipped,
  recorderEventsStored,
} from '../metrics/metrics';
import type { SuppressionCheck } from '../privacy/consent/suppression-list';

export interface RecorderStats {
  stored: number;
  duplicates: number;
  deadLetters: number;
  suppressed: number;
}

/** Stream id prefixes (the identifier an event arrived with) as identity kinds. */
const STREAM_KINDS: Readonly<Record<string, string>> = {
  user: 'userId',
  anon: 'anonymousId',
  email: 'email',
  phone: 'phone',
  // Touchpoints store their sender's customer id as ext:<id>; the graph calls it crm:<id>.
  ext: 'externalId:crm',
};

/**
 * Every identifier an event carries, canonical (`email:ada@example.com`): its stream id and what
 * the identity graph reads from it (userId, anonymousId, emails and phones in traits and
 * touchpoint fields, external ids), normalized the same way.
 */
export function identifiersOfEvent(event: {
  eventId: string;
  type: string;
  streamId: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}): string[] {
  const identifiers = new Set<string>();
  const colon = event.streamId.indexOf(':');
  const kind = colon > 0 ? STREAM_KINDS[event.streamId.slice(0, colon)] : undefined;
  identifiers.add(kind ? `${kind}:${event.streamId.slice(colon + 1)}` : `userId:${event.streamId}`);
  const observation = observationFromEvent(event);
  for (const identifier of observation?.identifiers ?? [])
    identifiers.add(`${identifier.kind}:${identifier.value}`);
  return [...identifiers];
}

/**
 * Turns a batch of ingest messages into stored events. The consumer commits offsets only after
 * `record` resolves, and the store skips event ids it already has: a crash at any point
 * redelivers the batch and nothing is lost or doubled.
 */
export class Recorder {
  readonly stats: RecorderStats = { stored: 0, duplicates: 0, deadLetters: 0, suppressed: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly topics: IngestTopics,
    private readonly deadLetters: DeadLetterStore,
    private readonly logger: Logger,
    private readonly suppressions: SuppressionCheck,
  ) {}

  async record(messages: readonly InboundMessage[]): Promise<void> {
    const decoded: { streamId: string; event: NewEvent; identifiers: string[] }[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      if (message.topic === this.topics.deadLetters) {
        const letter =
          parseDeadLetter(message.value) ??
          this.unreadable(message, 'the dead letter is not valid JSON');
        letters.push(letter);
        continue;
      }
      try {
        decoded.push(this.toEvent(message));
      } catch (error) {
        // A message we cannot read must not block its partition: keep it, with the reason.
        letters.push(
          this.unreadable(message, error instanceof Error ? error.message : String(error)),
        );
      }
    }
    // Events of a suppressed identifier are dropped before they are stored (docs/security.md,
    // "Consent"). Checked on every batch, so a new suppression applies to the next one; a
    // failing check fails the batch, which is redelivered: nothing is stored unchecked.
    const suppressed = await this.suppressions.suppressedAmong([
      ...new Set(decoded.flatMap((d) => d.identifiers)),
    ]);
    const streams = new Map<string, NewEvent[]>();
    let dropped = 0;
    for (const { streamId, event, identifiers } of decoded) {
      if (suppressed.size > 0 && identifiers.some((id) => suppressed.has(id))) {
        dropped += 1;
        continue;
      }
      const events = streams.get(streamId) ?? [];
      events.push(event);
      streams.set(streamId, events);
    }
    if (dropped > 0) {
      this.stats.suppressed += dropped;
      eventsSuppressed.inc(dropped);
      // A count only: the identifiers are exactly what must not reach the log.
      this.logger.info({ count: dropped }, 'events of suppressed identifiers dropped');
    }
    const batches: StreamBatch[] = [...streams].map(([streamId, events]) => ({ streamId, events }));
    if (batches.length > 0) {
      const result = await this.store.ingest(batches);
      this.stats.stored += result.stored;
      this.stats.duplicates += result.duplicates;
      recorderEventsStored.inc(result.stored);
      recorderDuplicatesSkipped.inc(result.duplicates);
    }
    if (letters.length > 0) {
      await this.deadLetters.save(letters);
      this.stats.deadLetters += letters.length;
      // Reason codes are ours, but a dead letter read off the topic could say anything.
      for (const letter of letters)
        deadLettersStored.inc({
          reason: /^[A-Z_]{1,40}$/.test(letter.reasonCode) ? letter.reasonCode : 'OTHER',
        });
      this.logger.warn(
        { count: letters.length, reasons: [...new Set(letters.map((l) => l.reasonCode))] },
        'dead letters stored',
      );
    }
  }

  private toEvent(message: InboundMessage): {
    streamId: string;
    event: NewEvent;
    identifiers: string[];
  } {
    const envelope = decodeEnvelopeOrThrow(message.value);
    const payload = decodeEventDataOrThrow(envelope.data);
    if (payload.type !== envelope.type || payload.version !== envelope.schemaVersion) {
      throw new Error(
        `envelope says ${envelope.type} v${envelope.schemaVersion}, data is ${payload.type} v${payload.version}`,
      );
    }
    const data = decodedEventDataToJson(payload);
    return {
      streamId: envelope.streamId,
      identifiers: identifiersOfEvent({
        eventId: envelope.eventId,
        type: envelope.type,
        streamId: envelope.streamId,
        occurredAt: envelope.occurredAt,
        data,
      }),
      event: {
        eventId: envelope.eventId,
        type: envelope.type,
        schemaVersion: envelope.schemaVersion,
        data,
        metadata: {
          channel: envelope.channel,
          occurredAt: envelope.occurredAt.toISOString(),
          receivedAt: envelope.receivedAt.toISOString(),
          sourceId: envelope.sourceId,
          ...(envelope.correlationId === null ? {} : { correlationId: envelope.correlationId }),
          sourceTopic: message.topic,
          sourcePartition: message.partition,
          sourceOffset: message.offset,
        },
      },
    };
  }

  private unreadable(message: InboundMessage, reason: string): DeadLetter {
    return {
      ...newDeadLetter({
        receivedAt: message.timestamp,
        sourceId: null,
        endpoint: `recorder:${message.topic}`,
        reasonCode: 'UNREADABLE_MESSAGE',
        reason,
        details: { topic: message.topic, partition: message.partition, offset: message.offset },
        raw: message.value,
      }),
      // Derived from the message's coordinates so a redelivery is stored once.
      id: coordinatesId(message),
    };
  }
}

function coordinatesId(message: InboundMessage): string {
  return stableUuid(message.topic, String(message.partition), message.offset);
}
