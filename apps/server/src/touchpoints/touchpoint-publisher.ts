import { validateEventData } from '@touchline/contracts';
import type { IngestTopics, MessagePublisher, OutboundMessage } from '@touchline/messaging';
import type { MappingResult, TouchpointEvent } from '@touchline/touchpoints';
import { deadLetterMessage, newDeadLetter } from '../dead-letters/dead-letter';
import { envelopeMessage } from '../ingest/envelope-message';
import { jsonProblem, MAX_NESTING_DEPTH } from '../collector/raw-body';

export interface TouchpointRequest {
  readonly sourceId: string;
  readonly endpoint: string;
  readonly receivedAt: Date;
  readonly correlationId: string;
}

export interface TouchpointOutcome {
  readonly accepted: number;
  readonly rejected: number;
  readonly ignored: number;
  readonly errors: ReadonlyArray<{
    index: number | null;
    itemId: string | null;
    errors: readonly { path: string; rule: string; message: string }[];
  }>;
}

/**
 * The identifier an email, phone or other-contact event is stored under: the one it arrived
 * with, normalized by the touchpoint mappers (a lowercased email, an E.164 number, the sender's
 * own customer id).
 */
export function streamIdOfTouchpoint(event: TouchpointEvent): string | null {
  const { email, phone, externalId } = event.identifiers;
  if (email) return `email:${email}`;
  if (phone) return `phone:${phone}`;
  if (externalId) return `ext:${externalId}`;
  return null;
}

/**
 * Publishes what a verified webhook or contact API call produced: events as Avro envelopes, the
 * items that could not become events as dead letters, in one publish (one 200 covers both).
 */
export class TouchpointPublisher {
  constructor(
    private readonly publisher: MessagePublisher,
    private readonly topics: IngestTopics,
  ) {}

  async publish(result: MappingResult, request: TouchpointRequest): Promise<TouchpointOutcome> {
    const outbound: OutboundMessage[] = [];
    const errors: Array<TouchpointOutcome['errors'][number]> = [];
    const deadLetter = (reason: string, details: unknown, raw: unknown): void => {
      outbound.push(
        deadLetterMessage(
          this.topics,
          newDeadLetter({
            receivedAt: request.receivedAt,
            sourceId: request.sourceId,
            endpoint: request.endpoint,
            reasonCode: 'INVALID_EVENT',
            reason,
            details,
            raw: JSON.stringify(raw) ?? 'null',
          }),
        ),
      );
    };
    for (const item of result.rejected) {
      errors.push({ index: item.index, itemId: item.itemId, errors: item.errors });
      deadLetter(
        item.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
        { errors: item.errors },
        item.raw,
      );
    }
    let accepted = 0;
    for (const event of result.events) {
      const streamId = streamIdOfTouchpoint(event);
      const valid = validateEventData(event.type, event.schemaVersion, event.data);
      // Provider payloads (e.g. Twilio forms) can carry a NUL that PostgreSQL cannot store.
      const unstorable = jsonProblem(event.data, MAX_NESTING_DEPTH);
      if (streamId === null || !valid.ok || unstorable !== null) {
        const problems =
          unstorable !== null
            ? [{ path: '(data)', rule: 'storable', message: unstorable }]
            : streamId === null
              ? [
                  {
                    path: '(identifiers)',
                    rule: 'required',
                    message: 'no email, phone or external id to join a customer',
                  },
                ]
              : valid.ok
                ? []
                : valid.errors;
        errors.push({ index: null, itemId: event.eventId, errors: problems });
        deadLetter(
          problems.map((e) => `${e.path}: ${e.message}`).join('; '),
          { errors: problems, type: event.type },
          event.data,
        );
        continue;
      }
      outbound.push(
        envelopeMessage(this.topics, {
          eventId: event.eventId,
          type: event.type,
          schemaVersion: event.schemaVersion,
          channel: event.channel,
          streamId,
          occurredAt: event.occurredAt,
          receivedAt: request.receivedAt,
          sourceId: request.sourceId,
          correlationId: request.correlationId,
          data: valid.value,
        }),
      );
      accepted += 1;
    }
    if (outbound.length > 0) await this.publisher.publish(outbound);
    return { accepted, rejected: errors.length, ignored: result.ignored.length, errors };
  }
}
