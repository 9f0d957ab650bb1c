import { randomUUID } from 'node:crypto';
import {
  ecommerceEventDataFromTrack,
  ecommerceEventFromTrack,
  type ValidationError,
  validateEventData,
} from '@touchline/contracts';
import type { IngestTopics, MessagePublisher, OutboundMessage } from '@touchline/messaging';
import type { ApiKeyPrincipal } from '../auth/api-keys';
import { deadLetterMessage, newDeadLetter } from '../dead-letters/dead-letter';
import { envelopeMessage } from '../ingest/envelope-message';
import {
  collectorEventsAccepted,
  collectorEventsReceived,
  collectorEventsRejected,
} from '../metrics/metrics';
import { consentChangedFromTrack, isConsentTrack } from '../privacy/consent/consent-statement';
import { type MappedEvent, mapSegmentCall } from './segment/segment-calls';
import { type BatchDefaults, deriveEventId, type FieldError } from './segment/segment-message';

/** Segment's limits: a message over 32 KB or a batch over 500 KB is refused. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_MESSAGES = 2_500;

export interface ItemResult {
  readonly index: number;
  readonly messageId: string | null;
  readonly status: 'accepted' | 'rejected';
  readonly errors?: readonly FieldError[];
}

export interface IngestRequest {
  readonly principal: ApiKeyPrincipal & { readonly sourceId: string };
  readonly endpoint: string;
  readonly receivedAt: Date;
  readonly messages: readonly unknown[];
  /** `track` for /v1/track; null in a batch, where each message names its type. */
  readonly impliedType: string | null;
  readonly defaults: BatchDefaults;
  readonly correlationId: string;
  /** Id for a message that has none; default random. Resubmission derives stable ones. */
  readonly newMessageId?: (index: number) => string;
  /** Keep rejected messages as dead letters (default). A resubmission only reports them. */
  readonly deadLetterRejections?: boolean;
}

/**
 * Validates Segment calls, encodes the good ones as Avro envelopes onto their channel's topic and
 * the bad ones as dead letters, in one publish: when it resolves, every accepted event is durable
 * and every rejected one is kept with its reason.
 */
export class CollectorService {
  constructor(
    private readonly publisher: MessagePublisher,
    private readonly topics: IngestTopics,
  ) {}

  async ingest(request: IngestRequest): Promise<ItemResult[]> {
    const outbound: OutboundMessage[] = [];
    const results: ItemResult[] = [];
    const sourceId = request.principal.sourceId;
    request.messages.forEach((message, index) => {
      const rejected = (errors: readonly FieldError[]): void => {
        results.push({ index, messageId: messageIdOf(message), status: 'rejected', errors });
        const channel = request.principal.channel ?? 'unknown';
        collectorEventsReceived.inc({ channel });
        collectorEventsRejected.inc({ channel });
        if (request.deadLetterRejections === false) return;
        outbound.push(
          deadLetterMessage(
            this.topics,
            newDeadLetter({
              receivedAt: request.receivedAt,
              sourceId,
              endpoint: request.endpoint,
              reasonCode: 'INVALID_EVENT',
              reason: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
              details: { errors },
              raw: safeStringify(message),
            }),
          ),
        );
      };
      const size = Buffer.byteLength(safeStringify(message), 'utf8');
      if (size > MAX_MESSAGE_BYTES) {
        rejected([
          {
            field: '(message)',
            rule: 'max-size',
            message: `a message must be at most ${MAX_MESSAGE_BYTES} bytes (got ${size})`,
          },
        ]);
        return;
      }
      const mapped = mapSegmentCall(message, request.impliedType, {
        receivedAt: request.receivedAt,
        defaults: request.defaults,
        newMessageId: request.newMessageId ? () => request.newMessageId!(index) : randomUUID,
      });
      if (!mapped.ok) {
        rejected(mapped.errors);
        return;
      }
      const typed = typedEvent(mapped.value);
      if (!typed.ok) {
        rejected(typed.errors);
        return;
      }
      const event = mapped.value;
      outbound.push(
        envelopeMessage(this.topics, {
          ...event,
          ...typed.event,
          eventId: deriveEventId(sourceId, event.messageId),
          receivedAt: request.receivedAt,
          sourceId,
          correlationId: request.correlationId,
        }),
      );
      results.push({ index, messageId: mapped.value.messageId, status: 'accepted' });
      collectorEventsReceived.inc({ channel: event.channel });
      collectorEventsAccepted.inc({ channel: event.channel });
    });
    if (outbound.length > 0) await this.publisher.publish(outbound);
    return results;
  }
}

type Typed =
  | { ok: true; event: { type: string; schemaVersion: number; data: unknown } }
  | { ok: false; errors: FieldError[] };

const asFieldErrors = (errors: readonly ValidationError[]): FieldError[] =>
  errors.map((e) => ({ field: e.path, rule: e.rule, message: e.message }));

/**
 * Validate against the event's schema. A track call named after one of Segment's ecommerce
 * events (Order Completed, ...) becomes that typed event: lifetime value is built from them; one
 * named ConsentChanged becomes a consent statement.
 */
function typedEvent(event: MappedEvent): Typed {
  if (event.type === 'WebEventTracked') {
    const track = validateEventData('WebEventTracked', 1, event.data);
    if (!track.ok) return { ok: false, errors: asFieldErrors(track.errors) };
    if (isConsentTrack(track.value.event)) {
      const consent = consentChangedFromTrack(track.value);
      if (!consent.ok) return { ok: false, errors: asFieldErrors(consent.errors) };
      return { ok: true, event: { type: 'ConsentChanged', schemaVersion: 1, data: consent.value } };
    }
    const ecommerce = ecommerceEventFromTrack(track.value.event, track.value.properties);
    if (ecommerce === null)
      return { ok: true, event: { type: event.type, schemaVersion: 1, data: track.value } };
    const built = ecommerceEventDataFromTrack(ecommerce.type, track.value);
    if (!built.ok) return { ok: false, errors: asFieldErrors(built.errors) };
    return {
      ok: true,
      event: { type: ecommerce.type, schemaVersion: ecommerce.version, data: built.value },
    };
  }
  const valid = validateEventData(event.type, event.schemaVersion, event.data);
  if (!valid.ok) return { ok: false, errors: asFieldErrors(valid.errors) };
  return {
    ok: true,
    event: { type: event.type, schemaVersion: event.schemaVersion, data: valid.value },
  };
}

function messageIdOf(message: unknown): string | null {
  if (typeof message === 'object' && message !== null && 'messageId' in message) {
    const id = message.messageId;
    return typeof id === 'string' ? id.slice(0, 512) : null;
  }
  return null;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return String(value);
  }
}
