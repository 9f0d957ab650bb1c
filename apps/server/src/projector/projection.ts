import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';

/**
 * A read model fed from the global log. `apply` runs inside the projector's transaction, which
 * also stores the checkpoint: the rows and the checkpoint commit together or not at all.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  /**
   * The read-model tables this projection owns (schema-qualified): a rebuild empties exactly
   * these. A projection that does not say cannot be rebuilt through the operations API.
   */
  readonly tables?: readonly string[];
  /**
   * Those of `tables` that hold the projection's own bookkeeping, not rows the events determine
   * (the profile projection's generation row, a new value per write): a rebuild empties and
   * switches them with the rest, and a dry run does not compare them.
   */
  readonly bookkeepingTables?: readonly string[];
  /**
   * What the rows depend on besides the log (the profile projection: the admins' stored
   * unmerges), as a value that changes whenever it does. A blue/green or dry-run copy is built
   * against the value at its start and cannot apply a later change to the rows it has already
   * written: if the value moved while the copy was built, the copy is built again from zero, and
   * if it moves in the last step, the switch is refused. Read with the live bookkeeping rows
   * locked, which a writer outside the projector (an unmerge) locks first.
   */
  inputsOutsideTheLog?(client: PoolClient): Promise<string>;
  /**
   * Events per transaction this projection works best with (per-batch work such as recomputing
   * the touched profiles amortizes over bigger batches). Default: the projector's own.
   */
  readonly batchSize?: number;
  /**
   * Indexes of this projection's tables (names as its live tables have them) that a rebuild from
   * position zero drops after emptying the tables and builds once at the end: one sort instead
   * of an insert into the index per row. Only ones no batch reads through and no ON CONFLICT
   * needs (docs/operations.md, "Indexes built after the replay").
   */
  readonly indexesBuiltAfterReplay?: readonly string[];
  /**
   * The key this projection's rows are partitioned by (a customer key): when every row an event
   * touches belongs to its key, the projection can run as segments, each owning a share of the
   * keys (docs/operations.md, "Parallel projectors"). Null: the event touches no keyed row.
   */
  segmentKey?(event: RecordedEvent): string | null;
  /**
   * The same projection writing its tables (same names) in another schema: a blue/green rebuild
   * builds there while the live tables keep serving (docs/operations.md, "Blue/green rebuilds").
   */
  inSchema?(schema: string): Projection;
  apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void>;
  /**
   * Optional: apply a batch of a replay far behind the head (a rebuild, whose rows are not
   * served meanwhile), deferring per-batch work that the next `apply` completes. A rebuild ends
   * with an `apply` of no events, so its rows equal what the live projector writes.
   */
  applyCatchingUp?(client: PoolClient, events: readonly RecordedEvent[]): Promise<void>;
  /**
   * Optional, for a replay that overlaps its batches: applyCatchingUp, resolving once the
   * batch's JavaScript is done and its writes are queued on `client`: `locked` settles when the
   * batch holds what serializes it with the next one, `written` when PostgreSQL has run its
   * writes. The replay computes the next batch, in another transaction, once this one is locked,
   * while it is written and committed; the projection must make that next batch's writes wait
   * for this commit and fail if it did not happen (the profile projection does both with its
   * generation row). `previous`: the commit of the batch before, when one is in flight; the
   * projection's `written` rejects if it fails, so state kept in memory for the next batch is
   * never that of a batch the replay rolled back.
   */
  applyCatchingUpQueued?(
    client: PoolClient,
    events: readonly RecordedEvent[],
    previous?: Promise<void>,
  ): Promise<{ locked: Promise<void>; written: Promise<void> }>;
  /** applyCatchingUpQueued as a replay applies it (set by `catchingUp`). */
  applyQueued?(
    client: PoolClient,
    events: readonly RecordedEvent[],
    previous?: Promise<void>,
  ): Promise<{ locked: Promise<void>; written: Promise<void> }>;
}

/**
 * A batch computed on state another writer changed before the batch could write (an admin's
 * unmerge between two overlapped batches of a replay): it was rolled back, and applying the log
 * again from the last committed checkpoint is safe (the state is read from the tables then).
 */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/** The projection as a rebuild applies it: through applyCatchingUp where it has one. */
export function catchingUp(projection: Projection): Projection {
  const applyCatchingUp = projection.applyCatchingUp?.bind(projection);
  if (!applyCatchingUp) return projection;
  const applyQueued = projection.applyCatchingUpQueued?.bind(projection);
  return {
    name: projection.name,
    version: projection.version,
    tables: projection.tables,
    batchSize: projection.batchSize,
    ...(projection.indexesBuiltAfterReplay
      ? { indexesBuiltAfterReplay: projection.indexesBuiltAfterReplay }
      : {}),
    apply: applyCatchingUp,
    ...(applyQueued ? { applyQueued } : {}),
  };
}
