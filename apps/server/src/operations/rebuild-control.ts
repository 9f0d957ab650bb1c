import type { Pool } from 'pg';
import type { ProjectorControl } from '../projector/projector';

/** A running rebuild whose heartbeat is older than this has died; its projection moves on. */
export const REBUILD_HEARTBEAT_TIMEOUT_SECONDS = 30;

/**
 * Tells a live projector to step aside while a rebuild of its projection runs (in this process
 * or any other): an in-place one from start to end, a blue/green one or a dry run only while it
 * switches or compares (the live tables keep serving and updating while it builds beside them). The signal is the rebuild's row with a fresh heartbeat: when the rebuilding
 * process dies, the heartbeat stops and the projector resumes from the rebuild's checkpoint.
 */
export class RebuildControl implements ProjectorControl {
  constructor(private readonly pool: Pool) {}

  async shouldYield(projection: string): Promise<boolean> {
    try {
      const { rows } = await this.pool.query<{ running: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM projections.rebuilds
            WHERE projection = $1 AND status = 'running'
              AND (mode IN ('rebuild', 'resume', 'reset') OR switching)
              AND heartbeat_at > now() - make_interval(secs => $2)) AS running`,
        [projection, REBUILD_HEARTBEAT_TIMEOUT_SECONDS],
      );
      return rows[0]?.running ?? false;
    } catch (error) {
      // Before the operations migration ran there is nothing to yield to.
      if ((error as { code?: unknown }).code === '42P01') return false;
      throw error;
    }
  }
}

/**
 * A projection being rebuilt in place right now (its live tables are partial until it ends), or
 * null. Scheduled jobs that act on read models (churn flags, CLV refits) hold back while one
 * runs: flags raised from half a read model would be wrong and would be recorded.
 */
export async function projectionRebuiltInPlace(pool: Pool): Promise<string | null> {
  try {
    const { rows } = await pool.query<{ projection: string }>(
      `SELECT projection FROM projections.rebuilds
        WHERE status = 'running' AND mode IN ('rebuild', 'resume')
          AND heartbeat_at > now() - make_interval(secs => $1)
        ORDER BY projection LIMIT 1`,
      [REBUILD_HEARTBEAT_TIMEOUT_SECONDS],
    );
    return rows[0]?.projection ?? null;
  } catch (error) {
    if ((error as { code?: unknown }).code === '42P01') return null;
    throw error;
  }
}
