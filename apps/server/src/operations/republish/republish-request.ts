import { EVENT_CATALOG, isJsonObject } from '@touchline/contracts';
import { parseInstant } from '../../common/instant';
import { RepublishError } from './republish.exception';

/** One end of the range: a global position (an event's), or a store time. */
export type RangeBound =
  | { readonly kind: 'position'; readonly position: bigint }
  | { readonly kind: 'time'; readonly time: Date };

export interface StartRepublish {
  readonly resume: false;
  readonly name: string;
  readonly topic: string;
  readonly from: RangeBound | null;
  readonly to: RangeBound | null;
  /** Null: every type. */
  readonly eventTypes: readonly string[] | null;
  /** Events per second; null: as fast as Kafka acknowledges. */
  readonly rateLimit: number | null;
}

export interface ResumeRepublish {
  readonly resume: true;
  readonly name: string;
  /** When given it must be the job's own topic. */
  readonly topic: string | null;
  /** Undefined keeps the job's rate; null lifts it. */
  readonly rateLimit: number | null | undefined;
}

export type RepublishRequest = StartRepublish | ResumeRepublish;

export const MAX_RATE_LIMIT = 1_000_000;
const FIELDS = ['topic', 'from', 'to', 'eventTypes', 'rateLimit', 'name', 'resume'];
// Kafka's own rule for topic names; a job name follows it so the default (the topic) fits.
const KAFKA_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const KNOWN_TYPES = new Set<string>(EVENT_CATALOG.map((entry) => entry.type));

/**
 * Reads the body of POST /v1/admin/republish, naming every bad parameter at once.
 * Validation stops here: inside, the types carry what was checked.
 */
export function republishRequestOrThrow(body: unknown): RepublishRequest {
  if (!isJsonObject(body)) {
    throw new RepublishError('INVALID_REQUEST', 'The body must be a JSON object');
  }
  const problems: string[] = [];
  const unknown = Object.keys(body).filter((key) => !FIELDS.includes(key));
  if (unknown.length > 0) {
    problems.push(
      `unknown field(s) ${unknown.join(', ').slice(0, 200)} (expected ${FIELDS.join(', ')})`,
    );
  }
  const resume = body['resume'] ?? false;
  if (typeof resume !== 'boolean') problems.push('resume must be true or false');

  const topic = nameField(body['topic'], 'topic', problems);
  const name = nameField(body['name'], 'name', problems);
  const rateLimit = rateField(body['rateLimit'], problems);

  if (resume === true) {
    const fixed = ['from', 'to', 'eventTypes'].filter((key) => body[key] !== undefined);
    if (fixed.length > 0) {
      problems.push(
        `${fixed.join(', ')} cannot change on resume: the job keeps the range it started with`,
      );
    }
    const jobName = name ?? topic;
    if (body['name'] === undefined && body['topic'] === undefined) {
      problems.push('name (or topic) is required to resume');
    }
    throwIfAny(problems);
    return { resume: true, name: jobName!, topic: topic ?? null, rateLimit };
  }

  if (topic === undefined && body['topic'] === undefined) problems.push('topic is required');
  const from = boundField(body['from'], 'from', problems);
  const to = boundField(body['to'], 'to', problems);
  const eventTypes = typesField(body['eventTypes'], problems);
  throwIfAny(problems);
  return {
    resume: false,
    name: name ?? topic!,
    topic: topic!,
    from,
    to,
    eventTypes,
    rateLimit: rateLimit ?? null,
  };
}

function throwIfAny(problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new RepublishError('INVALID_REQUEST', `Bad parameters: ${problems.join('; ')}`, {
      problems,
    });
  }
}

function nameField(value: unknown, field: string, problems: string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !KAFKA_NAME.test(value) || value === '.' || value === '..') {
    problems.push(
      `${field} must be 1 to 249 letters, digits, '.', '_' or '-' (Kafka's rule for topic names)`,
    );
    return undefined;
  }
  return value;
}

function rateField(value: unknown, problems: string[]): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_RATE_LIMIT
  ) {
    problems.push(
      `rateLimit must be a whole number of events per second from 1 to ${MAX_RATE_LIMIT}`,
    );
    return undefined;
  }
  return value;
}

function boundField(value: unknown, field: string, problems: string[]): RangeBound | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) {
    return { kind: 'position', position: BigInt(value) };
  }
  if (typeof value === 'string' && /^\d{1,19}$/.test(value) && BigInt(value) >= 1n) {
    return { kind: 'position', position: BigInt(value) };
  }
  // A zone-less date-time is UTC, whatever the server's zone.
  const time = typeof value === 'string' ? parseInstant(value) : null;
  if (time !== null) return { kind: 'time', time };
  problems.push(
    `${field} must be a global position (a whole number from 1) or an ISO-8601 time (e.g. 2026-01-31T12:00:00Z)`,
  );
  return null;
}

function typesField(value: unknown, problems: string[]): readonly string[] | null {
  if (value === undefined || value === null) return null;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 100 ||
    !value.every((t): t is string => typeof t === 'string')
  ) {
    problems.push('eventTypes must be a list of 1 to 100 event type names');
    return null;
  }
  const unknown = value.filter((type) => !KNOWN_TYPES.has(type));
  if (unknown.length > 0) {
    problems.push(
      `eventTypes names unknown event type(s) ${unknown.slice(0, 10).join(', ').slice(0, 300)}`,
    );
    return null;
  }
  return [...new Set(value)];
}
