import type { GlobalCheckpoint } from '@touchline/event-store';
import type { Pool } from 'pg';
import { loadCheckpoint, projectionLockKey } from '../projector/projector';
import type { Projection } from '../projector/projection';
import { parseSegmentName } from '../projector/segments';

/** Counting stops here: a lag this large reads as "at least". */
export const LAG_COUNT_CAP = 10_000_000;

export interface CheckpointRow {
  readonly checkpoint: GlobalCheckpoint;
  readonly version: number | null;
  /** When the projector last committed a batch (null before the first). */
  readonly updatedAt: Date | null;
}

export interface ProjectionLag {
  /** Events stored after the checkpoint (capped at LAG_COUNT_CAP). */
  readonly events: number;
  /**
   * Seconds since the oldest event not yet applied was stored; 0 when caught up. Not "head time
   * minus checkpoint time": after an idle hour one new event would read as an hour behind.
   */
  readonly seconds: number;
}

// Only events a reader may already see: below the oldest running transaction (see event-store.md).
const AFTER = `(transaction_id, global_position) > ($1::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`;

/** Read-only facts about projections, from the database: any process can answer them. */
export class ProjectionStatusReader {
  constructor(private readonly pool: Pool) {}

  async checkpoint(projection: Projection): Promise<CheckpointRow> {
    const { rows } = await this.pool.query<{ version: number; updated_at: Date }>(
      'SELECT version, updated_at FROM projections.checkpoints WHERE projection = $1',
      [projection.name],
    );
    const row = rows[0];
    return {
      checkpoint: await loadCheckpoint(this.pool, projection),
      version: row?.version ?? null,
      updatedAt: row?.updated_at ?? null,
    };
  }

  /** The checkpoint of each segment of a projection split into segments (none when unsplit). */
  async segmentCheckpoints(
    projection: Projection,
  ): Promise<{ segment: string; checkpoint: GlobalCheckpoint; updatedAt: Date }[]> {
    const { rows } = await this.pool.query<{
      projection: string;
      transaction_id: string;
      position: string;
      updated_at: Date;
    }>(
      `SELECT projection, transaction_id, position, updated_at FROM projections.checkpoints
        WHERE starts_with(projection, $1 || '#') ORDER BY projection`,
      [projection.name],
    );
    return rows.flatMap((row) => {
      const parsed = parseSegmentName(row.projection);
      if (parsed?.projection !== projection.name) return [];
      return [
        {
          segment: `${String(parsed.index)}/${String(parsed.count)}`,
          checkpoint: { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) },
          updatedAt: row.updated_at,
        },
      ];
    });
  }

  async lag(after: GlobalCheckpoint): Promise<ProjectionLag> {
    const { rows } = await this.pool.query<{ events: string; seconds: number | null }>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM event_store.events WHERE ${AFTER} LIMIT ${LAG_COUNT_CAP}) AS lagging)::text AS events,
              (SELECT greatest(0, extract(epoch FROM clock_timestamp() - recorded_at))::float8
                 FROM event_store.events WHERE ${AFTER}
                ORDER BY transaction_id, global_position LIMIT 1) AS seconds`,
      [after.transactionId.toString(), after.position.toString()],
    );
    return { events: Number(rows[0]?.events ?? 0), seconds: rows[0]?.seconds ?? 0 };
  }

  /** Events a replay from zero reads up to `until` (inclusive). */
  async countUpTo(until: GlobalCheckpoint): Promise<number> {
    const { rows } = await this.pool.query<{ events: string }>(
      `SELECT count(*)::text AS events FROM event_store.events
        WHERE (transaction_id, global_position) <= ($1::xid8, $2::bigint)`,
      [until.transactionId.toString(), until.position.toString()],
    );
    return Number(rows[0]?.events ?? 0);
  }

  /** The checkpoint of the visible event at a global position, or null when there is none. */
  async checkpointAt(position: bigint): Promise<GlobalCheckpoint | null> {
    const { rows } = await this.pool.query<{ tx: string }>(
      `SELECT transaction_id::text AS tx FROM event_store.events
        WHERE global_position = $1 AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`,
      [position.toString()],
    );
    const row = rows[0];
    return row ? { transactionId: BigInt(row.tx), position } : null;
  }

  /** The checkpoint of the last visible event stored at or before `time`, or null when none is. */
  async checkpointAtTime(time: Date): Promise<GlobalCheckpoint | null> {
    // Aliases differ from the columns: under the column's own name, ORDER BY would sort the
    // text output, and '999' > '1000' picks an early event once transaction ids gain a digit.
    const { rows } = await this.pool.query<{ tx: string; pos: string }>(
      `SELECT transaction_id::text AS tx, global_position::text AS pos
         FROM event_store.events
        WHERE recorded_at <= $1 AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [time],
    );
    const row = rows[0];
    return row ? { transactionId: BigInt(row.tx), position: BigInt(row.pos) } : null;
  }

  /** Whether some session holds the projection's advisory lock (a live projector or a rebuild). */
  async lockHeld(projection: Projection): Promise<boolean> {
    const { rows } = await this.pool.query<{ held: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND classid::text::bigint = (hashtext($1)::bigint >> 32) & 4294967295
            AND objid::text::bigint = hashtext($1)::bigint & 4294967295) AS held`,
      [projectionLockKey(projection)],
    );
    return rows[0]?.held ?? false;
  }
}
