import { START as ESDB_START, type Position, type ReadPosition } from '@eventstore/db-client';
import { START, type GlobalCheckpoint } from '@touchline/event-store';

/*
 * How $all positions become GlobalCheckpoints.
 *
 * EventStoreDB has one writer appending to one log, and reads of $all return only events that
 * are written and replicated, in log order: an event can never appear behind a position a reader
 * has passed, so nothing like PostgreSQL's transaction-id horizon is needed.
 *
 * An append over gRPC is an implicit transaction: its events are written back to back and
 * become readable together, but each gets its own $all position with commit == prepare == its
 * own log position (the server's AllReader returns a self-committed prepare at its own
 * position). So:
 * - `position` := the event's prepare position (its place in the log);
 * - `transactionId` := the position of the first event of the same append, found through the
 *   append offset the adapter stores in each event's metadata (first event = stream revision
 *   minus offset). Events of one append share it, and since appends never interleave in the
 *   log, ordering by (transactionId, position) is exactly $all order.
 * Positions are EventStoreDB's own, so they can be compared with its UI and tools. No event sits
 * at 0 (= START): every log begins with the server's epoch record.
 */

/** Where a forward read of $all starts to return events strictly after `after` (inclusive start). */
export function toReadPosition(after: GlobalCheckpoint): ReadPosition {
  if (after.transactionId === START.transactionId && after.position === START.position) {
    return ESDB_START;
  }
  // Self-committed events: commit == prepare == the event's log position.
  return { commit: after.position, prepare: after.position };
}

/** The checkpoint of an event at `position` whose append began at `appendPosition`. */
export function toCheckpoint(position: Position, appendPosition: Position): GlobalCheckpoint {
  return { transactionId: appendPosition.prepare, position: position.prepare };
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}
