import {
  decodedEventDataToJson,
  decodeEnvelopeOrThrow,
  decodeEventDataOrThrow,
} from '@touchline/contracts';
import type { EventStore, NewEvent, StreamBatch } from '@touchline/event-store';
import type { IngestTopics, InboundMessage } from '@touchline/messaging';
import type { Logger } from 'pino';
import { stableUuid } from '../common/ids';
import { type DeadLetter, newDeadLetter, parseDeadLetter } from '../dead-letters/dead-letter';
import type { DeadLetterStore } from '../dead-letters/dead-letter.store';
import {
  deadLettersStored,
  recorderDuplicatesSkipped,
  recorderEventsStored,
} from '../metrics/metrics';

export interface RecorderStats {
  stored: number;
  duplicates: number;
  deadLetters: number;
}

/**
 * Turns a batch of ingest messages into stored events. The consumer commits offsets only after
 * `record` resolves, and the store skips event ids it already has: a crash at any point
 * redelivers the batch and nothing is lost or doubled.
 */
export class Recorder {
  readonly stats: RecorderStats = { stored: 0, duplicates: 0, deadLetters: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly topics: IngestTopics,
    private readonly deadLetters: DeadLetterStore,
    private readonly logger: Logger,
  ) {}

  async record(messages: readonly InboundMessage[]): Promise<void> {
    const streams = new Map<string, NewEvent[]>();
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
        const { streamId, event } = this.toEvent(message);
        const events = streams.get(streamId) ?? [];
        events.push(event);
        streams.set(streamId, events);
      } catch (error) {
        // A message we cannot read must not block its partition: keep it, with the reason.
        letters.push(
          this.unreadable(message, error instanceof Error ? error.message : String(error)),
        );
      }
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

  private toEvent(message: InboundMessage): { streamId: string; event: NewEvent } {
    const envelope = decodeEnvelopeOrThrow(message.value);
    const payload = decodeEventDataOrThrow(envelope.data);
    if (payload.type !== envelope.type || payload.version !== envelope.schemaVersion) {
      throw new Error(
        `envelope says ${envelope.type} v${envelope.schemaVersion}, data is ${payload.type} v${payload.version}`,
      );
    }
    return {
      streamId: envelope.streamId,
      event: {
        eventId: envelope.eventId,
        type: envelope.type,
        schemaVersion: envelope.schemaVersion,
        data: decodedEventDataToJson(payload),
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
