import { randomUUID } from 'node:crypto';
import {
  type ConsentChangedV1,
  type JsonObject,
  validateEventData,
  type ValidationError,
} from '@touchline/contracts';
import { deriveEventId, isJsonObject } from '../../collector/segment/segment-message';
import { readConsentFields } from './consent-statement';

/**
 * The consent API (`POST /v1/consent`) for senders that are not a browser: a call centre, an
 * import, an admin tool. A statement names the customer by any identifier the contract allows
 * (email, phone, externalId, userId, anonymousId), so a customer known only by phone can state
 * consent (docs/security.md, "Consent").
 */

export const MAX_CONSENT_BATCH = 1_000;
const MAX_ID_LENGTH = 200;
/** A statement dated further ahead than this is a wrong clock or a wrong field, not a plan. */
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

const KNOWN_FIELDS = new Set([
  'purpose',
  'granted',
  'source',
  'email',
  'phone',
  'externalId',
  'userId',
  'anonymousId',
  'note',
  'occurredAt',
  'messageId',
]);

export interface ConsentApiEvent {
  readonly eventId: string;
  readonly streamId: string;
  readonly occurredAt: Date;
  readonly data: ConsentChangedV1;
}

export interface ConsentApiRejection {
  readonly index: number;
  readonly messageId: string | null;
  readonly errors: readonly ValidationError[];
  readonly raw: unknown;
}

export class ConsentBodyError extends Error {}

/**
 * The statements of a request body: one statement object, or `{ "batch": [statement, ...] }`.
 * Throws ConsentBodyError when the body as a whole is unusable; bad items are rejected one by
 * one, with errors naming the field as sent (`batch[2].purpose`) and never quoting a value.
 */
export function consentStatementsFromBody(
  body: unknown,
  context: { sourceId: string; receivedAt: Date },
): { events: ConsentApiEvent[]; rejected: ConsentApiRejection[] } {
  if (!isJsonObject(body)) {
    throw new ConsentBodyError(
      'The body must be a JSON object: one statement, or {"batch": [...]}',
    );
  }
  let items: Array<{ item: unknown; prefix: string }>;
  if (Object.hasOwn(body, 'batch')) {
    const batch = body['batch'];
    if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_CONSENT_BATCH) {
      throw new ConsentBodyError(`batch must be an array of 1 to ${MAX_CONSENT_BATCH} statements`);
    }
    items = batch.map((item: unknown, index) => ({ item, prefix: `batch[${index}]` }));
  } else {
    items = [{ item: body, prefix: '' }];
  }
  const events: ConsentApiEvent[] = [];
  const rejected: ConsentApiRejection[] = [];
  items.forEach(({ item, prefix }, index) => {
    const read = readStatement(item, prefix, context);
    if (read.ok) events.push(read.event);
    else {
      const messageId =
        isJsonObject(item) && typeof item['messageId'] === 'string' ? item['messageId'] : null;
      rejected.push({ index, messageId, errors: read.errors, raw: item });
    }
  });
  return { events, rejected };
}

function readStatement(
  item: unknown,
  prefix: string,
  context: { sourceId: string; receivedAt: Date },
): { ok: true; event: ConsentApiEvent } | { ok: false; errors: ValidationError[] } {
  const at = (field: string) => (prefix === '' ? field : `${prefix}.${field}`);
  if (!isJsonObject(item)) {
    return {
      ok: false,
      errors: [
        { path: prefix || '(body)', rule: 'type', message: 'a statement must be an object' },
      ],
    };
  }
  const errors: ValidationError[] = [];
  const unknown = Object.keys(item).filter((key) => key !== 'writeKey' && !KNOWN_FIELDS.has(key));
  for (const key of unknown.slice(0, 10)) {
    errors.push({
      path: at(key),
      rule: 'unknown-field',
      message: `${at(key)} is not a field of a consent statement (${[...KNOWN_FIELDS].join(', ')})`,
    });
  }
  const fields = readConsentFields(item, prefix);
  if (!fields.ok) errors.push(...fields.errors);
  const optionalId = (field: string): string | null => {
    const value = item[field];
    if (value === undefined || value === null) return null;
    if (typeof value === 'string' && value.trim().length > 0 && value.length <= MAX_ID_LENGTH) {
      return value.trim();
    }
    errors.push({
      path: at(field),
      rule: 'type',
      message: `${at(field)} must be a non-blank string of at most ${MAX_ID_LENGTH} characters`,
    });
    return null;
  };
  const userId = optionalId('userId');
  const anonymousId = optionalId('anonymousId');
  const messageId = optionalId('messageId');
  const occurredAt = readOccurredAt(
    item['occurredAt'],
    at('occurredAt'),
    context.receivedAt,
    errors,
  );
  if (fields.ok) {
    const { email, phone, externalId } = fields.value;
    if (!email && !phone && !externalId && !userId && !anonymousId) {
      errors.push({
        path: prefix || '(body)',
        rule: 'required',
        message: `${prefix || 'the statement'} must name the customer: email, phone, externalId, userId or anonymousId`,
      });
    }
  }
  if (!fields.ok || errors.length > 0) return { ok: false, errors };

  const statement = fields.value;
  const eventId = messageId ? deriveEventId(context.sourceId, messageId) : randomUUID();
  const empty: JsonObject = {};
  const valid = validateEventData('ConsentChanged', 1, {
    messageId: messageId ?? eventId,
    userId,
    anonymousId,
    ...statement,
    properties: empty,
    context: empty,
    integrations: empty,
    timestamp: occurredAt,
    sentAt: null,
    originalTimestamp: null,
  });
  if (!valid.ok) return { ok: false, errors: [...valid.errors] };
  // The stream is the strongest identifier given, as the collector keys a Segment call by its
  // user id and a touchpoint by its email, phone or external id.
  const streamId = userId
    ? `user:${userId}`
    : statement.email
      ? `email:${statement.email}`
      : statement.phone
        ? `phone:${statement.phone}`
        : statement.externalId
          ? `ext:${statement.externalId}`
          : `anon:${anonymousId}`;
  return { ok: true, event: { eventId, streamId, occurredAt, data: valid.value } };
}

function readOccurredAt(
  value: unknown,
  path: string,
  receivedAt: Date,
  errors: ValidationError[],
): Date {
  if (value === undefined || value === null) return receivedAt;
  const time =
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) {
    errors.push({
      path,
      rule: 'timestamp',
      message: `${path} must be an ISO 8601 date-time (2024-05-01T10:00:00Z)`,
    });
    return receivedAt;
  }
  if (time > receivedAt.getTime() + MAX_FUTURE_MS) {
    errors.push({ path, rule: 'timestamp', message: `${path} must not be more than a day ahead` });
    return receivedAt;
  }
  return new Date(time);
}
