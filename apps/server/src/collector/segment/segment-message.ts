import { stableUuid } from '../../common/ids';
import { parseInstant } from '../../common/instant';

/** A problem with one field of one message: the field's path and the rule it broke. */
export interface FieldError {
  readonly field: string;
  readonly rule: string;
  readonly message: string;
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export type JsonObject = Record<string, unknown>;

/** Fields every Segment call shares (HTTP Tracking API spec, "common fields"). */
export interface CommonFields {
  readonly messageId: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly context: JsonObject;
  readonly integrations: JsonObject;
  /** The client's own event time, before clock-skew correction. */
  readonly originalTimestamp: Date | null;
  readonly sentAt: Date | null;
  /** Event time after clock-skew correction: what every projection orders by. */
  readonly occurredAt: Date;
}

/** Fields a batch gives to every message that does not set them itself. */
export interface BatchDefaults {
  readonly context?: unknown;
  readonly integrations?: unknown;
  readonly sentAt?: unknown;
}

export const MAX_ID_LENGTH = 512;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Collects field errors while reading an untrusted message, so one response can name every
 * problem at once.
 */
export class MessageReader {
  readonly errors: FieldError[] = [];
  constructor(private readonly message: JsonObject) {}

  fail(field: string, rule: string, message: string): void {
    this.errors.push({ field, rule, message });
  }

  optionalString(field: string, maxLength = MAX_ID_LENGTH): string | null {
    const value = this.message[field];
    if (value === undefined || value === null) return null;
    // Segment clients send numeric user ids; they are ids, so keep their text form.
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value !== 'string') {
      this.fail(field, 'type', `${field} must be a string`);
      return null;
    }
    if (value.length > maxLength) {
      this.fail(field, 'max-length', `${field} must be at most ${maxLength} characters`);
      return null;
    }
    return value.length === 0 ? null : value;
  }

  requiredString(field: string, maxLength = MAX_ID_LENGTH): string {
    const value = this.optionalString(field, maxLength);
    if (value === null && !this.errors.some((e) => e.field === field)) {
      this.fail(field, 'required', `${field} is required`);
    }
    return value ?? '';
  }

  object(field: string, fallback: unknown = undefined): JsonObject {
    const value = this.message[field] ?? fallback;
    if (value === undefined || value === null) return {};
    if (!isJsonObject(value)) {
      this.fail(field, 'json-object', `${field} must be a JSON object`);
      return {};
    }
    return value;
  }

  optionalDate(field: string, fallback: unknown = undefined): Date | null {
    const value = this.message[field] ?? fallback;
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' && typeof value !== 'number') {
      this.fail(field, 'iso-8601', `${field} must be an ISO-8601 date-time string`);
      return null;
    }
    // An ISO-8601 date-time without a zone is UTC, whatever the server's zone; other strings
    // Date reads (as before), and numbers are epoch milliseconds.
    const date = (typeof value === 'string' ? parseInstant(value) : null) ?? new Date(value);
    // Dates outside these years are client bugs (epoch seconds sent as ms, zero dates).
    if (
      Number.isNaN(date.getTime()) ||
      date.getUTCFullYear() < 1970 ||
      date.getUTCFullYear() > 9999
    ) {
      this.fail(field, 'iso-8601', `${field} must be an ISO-8601 date-time string`);
      return null;
    }
    return date;
  }
}

/**
 * Event time as Segment computes it: the client's timestamp shifted by the difference between
 * the server's receive time and the client's sentAt, which cancels a wrong device clock.
 */
export function correctClockSkew(
  originalTimestamp: Date | null,
  sentAt: Date | null,
  receivedAt: Date,
): Date {
  if (originalTimestamp === null) return receivedAt;
  if (sentAt === null) return originalTimestamp;
  return new Date(receivedAt.getTime() - (sentAt.getTime() - originalTimestamp.getTime()));
}

export function readCommonFields(
  reader: MessageReader,
  defaults: BatchDefaults,
  receivedAt: Date,
  newMessageId: () => string,
): CommonFields {
  const messageId = reader.optionalString('messageId') ?? newMessageId();
  const userId = reader.optionalString('userId');
  const anonymousId = reader.optionalString('anonymousId');
  if (
    userId === null &&
    anonymousId === null &&
    !reader.errors.some((e) => e.field === 'userId' || e.field === 'anonymousId')
  ) {
    reader.fail('userId', 'required', 'userId or anonymousId is required');
  }
  const originalTimestamp =
    reader.optionalDate('timestamp') ?? reader.optionalDate('originalTimestamp');
  const sentAt = reader.optionalDate('sentAt', defaults.sentAt);
  return {
    messageId,
    userId,
    anonymousId,
    context: reader.object('context', defaults.context),
    integrations: reader.object('integrations', defaults.integrations),
    originalTimestamp,
    sentAt,
    occurredAt: correctClockSkew(originalTimestamp, sentAt, receivedAt),
  };
}

/** The stream (and Kafka key) an event is stored under: the identifier it arrived with. */
export function streamIdFor(fields: Pick<CommonFields, 'userId' | 'anonymousId'>): string {
  return fields.userId !== null ? `user:${fields.userId}` : `anon:${fields.anonymousId ?? ''}`;
}

/**
 * Event ids are scoped by source: a messageId is chosen by the client, so two sources could
 * pick the same one.
 */
export function deriveEventId(sourceId: string, messageId: string): string {
  return stableUuid('segment', sourceId, messageId);
}
