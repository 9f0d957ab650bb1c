import {
  DuplicateEventConflictError,
  InvalidAppendError,
  WrongExpectedVersionError,
  type AppendOptions,
  type AppendResult,
  type ExpectedVersion,
  type NewEvent,
} from '@touchline/event-store';
import type { ClientBase } from 'pg';
import { appendEventsSql } from './sql/append-events.sql';
import { bumpStreamVersionSql } from './sql/bump-stream-version.sql';
import { findStoredEventsSql, type StoredEventRow } from './sql/find-stored-events.sql';
import { lockStreamSql } from './sql/lock-streams.sql';
import { isUniqueViolation } from './pg-errors';

/**
 * Appends to one stream on a client inside a transaction the caller controls (BEGIN and
 * COMMIT/ROLLBACK are the caller's): lets a caller store its own rows atomically with the
 * events. Outside a transaction the stream lock would not hold; do not call it so.
 */
export async function appendToStreamWithin(
  client: ClientBase,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  validateAppendOrThrow(streamId, events, options);
  try {
    return await appendValidated(client, streamId, events, options.expectedVersion ?? 'any');
  } catch (error) {
    // Another transaction stored one of these ids in another stream meanwhile.
    if (isUniqueViolation(error)) throw new DuplicateEventConflictError(streamId, ids(events));
    throw error;
  }
}

export function validateAppendOrThrow(
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions = {},
): void {
  if (!streamId) throw new InvalidAppendError('Stream id must not be empty');
  if (events.length === 0) throw new InvalidAppendError(`Append to "${streamId}" has no events`);
  const expected = options.expectedVersion;
  if (typeof expected === 'number' && (!Number.isInteger(expected) || expected < -1)) {
    throw new InvalidAppendError(`Expected version ${expected} of "${streamId}" is not a version`);
  }
  const seen = new Set<string>();
  for (const event of events) {
    if (!event.eventId)
      throw new InvalidAppendError(`Append to "${streamId}" has an event without id`);
    if (seen.has(event.eventId)) {
      throw new InvalidAppendError(
        `Event id "${event.eventId}" appears twice in one append to "${streamId}"`,
      );
    }
    seen.add(event.eventId);
  }
}

/** The append's statements; a unique violation escapes raw so the store can retry once. */
export async function appendValidated(
  client: ClientBase,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedVersion,
): Promise<AppendResult> {
  await client.query(lockStreamSql, [streamId]);
  // Under the stream lock, so an earlier append of the same ids to this stream is visible.
  const stored = await client.query<StoredEventRow>(findStoredEventsSql, [ids(events)]);
  if (stored.rows.length > 0) return repeatedOrThrow(streamId, events, expected, stored.rows);

  const bumped = await client.query<{ version: string }>(bumpStreamVersionSql, [
    streamId,
    events.length,
  ]);
  const next = Number(bumped.rows[0]!.version);
  const previous = next - events.length;
  if (!matches(expected, previous))
    throw new WrongExpectedVersionError(streamId, expected, previous);

  await client.query(appendEventsSql, [
    streamId,
    previous,
    ids(events),
    events.map((e) => e.type),
    events.map((e) => e.schemaVersion),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => JSON.stringify(e.metadata ?? {})),
  ]);
  return { streamId, nextExpectedVersion: next, appended: true };
}

function matches(expected: ExpectedVersion, previous: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return previous === -1;
    case 'stream_exists':
      return previous >= 0;
    default:
      return previous === expected;
  }
}

/**
 * A safe repeat stored every id in this stream, in this order, where the same expected version
 * would have put them; it answers like the original append, with appended: false.
 */
function repeatedOrThrow(
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedVersion,
  stored: readonly StoredEventRow[],
): AppendResult {
  const byId = new Map(stored.map((row) => [row.event_id, row]));
  const versions = events.map((event) => {
    const row = byId.get(event.eventId);
    return row?.stream_id === streamId ? Number(row.stream_version) : undefined;
  });
  const first = versions[0];
  const inPlace =
    first !== undefined &&
    versions.every((version, i) => version === first + i) &&
    matches(expected, first - 1);
  if (!inPlace) throw new DuplicateEventConflictError(streamId, [...byId.keys()]);
  return { streamId, nextExpectedVersion: first + events.length - 1, appended: false };
}

function ids(events: readonly NewEvent[]): string[] {
  return events.map((event) => event.eventId);
}
