import {
  NO_STREAM,
  type AppendExpectedRevision,
  type CurrentRevision,
} from '@eventstore/db-client';
import type { ExpectedVersion } from '@touchline/event-store';

/*
 * The adapter checks our expectation against the revision it just read and then appends with
 * exactly that revision, never ANY or STREAM_EXISTS: EventStoreDB guarantees idempotency and
 * conflict detection only for exact expectations (under ANY it is best effort), and an exact
 * revision makes a concurrent writer's append fail instead of interleaving.
 */

/** The expected revision for appending right after `version` (-1 = the stream is new). */
export function revisionAfter(version: number): AppendExpectedRevision {
  return version < 0 ? NO_STREAM : BigInt(version);
}

/** EventStoreDB's current revision as our stream version (-1 = no stream). */
export function toStreamVersion(current: CurrentRevision): number {
  return current === NO_STREAM ? -1 : Number(current);
}

/** Whether a stream whose last event is at `current` (-1 = none) satisfies `expected`. */
export function satisfies(expected: ExpectedVersion, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1;
    case 'stream_exists':
      return current >= 0;
    default:
      return current === expected;
  }
}
