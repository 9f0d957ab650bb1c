import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Projector, ProjectorControl } from './projector';
import type { ProjectionSegment } from './segments';

/** Segments the instance at `rank` (0-based, among `live` ordered instances) should own. */
export function fairShare(segments: number, live: number, rank: number): number {
  return Math.floor(segments / live) + (rank < segments % live ? 1 : 0);
}

/** An instance whose heartbeat is older than this is taken for dead; its share is spread. */
export const INSTANCE_TIMEOUT_SECONDS = 5;
const HEARTBEAT_MS = 1_000;

/**
 * Spreads the segments of one projection over the processes that run it. Each process says it is
 * alive in projections.projector_instances; the live ones, ordered by id, split the segments
 * evenly (the first `segments mod live` take one more), so the shares add up to the segments.
 * A segment projector asks `shouldYield` before taking its lock and about once a second while it
 * runs: it does not take a segment beyond the share, and the process holding more than its share
 * gives back its highest-numbered segment, one per second, so the spread settles without
 * flapping. Exclusive ownership never depends on this table: it is the segment's advisory lock.
 * A process that dies loses its locks with its sessions; the others take its segments once its
 * heartbeat is older than INSTANCE_TIMEOUT_SECONDS.
 */
export class SegmentBalancer implements ProjectorControl {
  readonly instanceId = randomUUID();
  private projectors: readonly Projector[] = [];
  private share: number;
  private timer: NodeJS.Timeout | null = null;
  private lastGiveBack = 0;

  constructor(
    private readonly pool: Pool,
    private readonly projection: string,
    private readonly segmentCount: number,
    /** Rebuilds still come first: a rebuild of the projection stops every segment. */
    private readonly rebuilds: ProjectorControl,
    private readonly logger: Logger,
  ) {
    // Until the first heartbeat this process claims nothing it cannot hold alone.
    this.share = segmentCount;
  }

  /** The segment projectors of this process. */
  attach(projectors: readonly Projector[]): void {
    this.projectors = projectors;
  }

  /** Begins the heartbeat; the first one runs before any segment asks, so the share is known. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      void this.beat();
    }, HEARTBEAT_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pool
      .query(
        'DELETE FROM projections.projector_instances WHERE projection = $1 AND instance_id = $2',
        [this.projection, this.instanceId],
      )
      .catch(() => undefined);
  }

  /** Segments this process should own at most, as of the last heartbeat. */
  get fairShare(): number {
    return this.share;
  }

  private async beat(): Promise<void> {
    try {
      // Rows of processes long gone (killed, never stopped) are only clutter: drop them.
      await this.pool.query(
        `DELETE FROM projections.projector_instances
          WHERE projection = $1 AND heartbeat_at < now() - interval '1 hour'`,
        [this.projection],
      );
      await this.pool.query(
        `INSERT INTO projections.projector_instances (instance_id, projection, heartbeat_at)
         VALUES ($1, $2, now())
         ON CONFLICT (projection, instance_id) DO UPDATE SET heartbeat_at = now()`,
        [this.instanceId, this.projection],
      );
      const { rows } = await this.pool.query<{ instance_id: string }>(
        `SELECT instance_id FROM projections.projector_instances
          WHERE projection = $1 AND heartbeat_at > now() - make_interval(secs => $2)
          ORDER BY instance_id`,
        [this.projection, INSTANCE_TIMEOUT_SECONDS],
      );
      const live = Math.max(1, rows.length);
      const rank = Math.max(
        0,
        rows.findIndex((row) => row.instance_id === this.instanceId),
      );
      const share = fairShare(this.segmentCount, live, rank);
      if (share !== this.share) {
        this.logger.info(
          { projection: this.projection, liveInstances: live, segmentsHere: share },
          'projector segments rebalancing',
        );
      }
      this.share = share;
    } catch (error) {
      // Without a heartbeat the others will take this process for dead: hold only what it holds.
      this.logger.warn({ err: error, projection: this.projection }, 'projector heartbeat failed');
    }
  }

  private held(): ProjectionSegment[] {
    return this.projectors
      .filter((p) => p.status.state === 'running')
      .map((p) => p.projection as ProjectionSegment)
      .sort((a, b) => a.index - b.index);
  }

  async shouldYield(segmentName: string): Promise<boolean> {
    if (await this.rebuilds.shouldYield(this.projection)) return true;
    const held = this.held();
    const holding = held.some((segment) => segment.name === segmentName);
    if (!holding) return held.length >= this.share;
    if (held.length <= this.share) return false;
    // Over the share: give back the highest-numbered segment, at most one per heartbeat.
    const highest = held[held.length - 1];
    if (highest?.name !== segmentName || Date.now() - this.lastGiveBack < HEARTBEAT_MS)
      return false;
    this.lastGiveBack = Date.now();
    return true;
  }
}
