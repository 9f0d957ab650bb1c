import {
  type EventStore,
  formatCheckpoint,
  START,
  compareCheckpoints,
} from '@touchline/event-store';
import type { Projection } from '../projector/projection';
import type { ProjectionCatalog } from './projection-catalog';
import type { ProjectionStatusReader } from './projection-status';
import type { ProjectionRebuilder, RebuildProgress } from './projection-rebuilder';

export type ProjectionState =
  'running' | 'standing-by' | 'failing' | 'paused' | 'rebuilding' | 'starting' | 'stopped';

export interface ProjectionView {
  readonly name: string;
  /** The running code's version. */
  readonly version: number;
  /** The version whose code built the rows from zero; differs from `version` until a rebuild. */
  readonly builtVersion: number | null;
  /** The version a blue/green switch replaced, kept for rollback until dropped. */
  readonly previousVersion: {
    readonly version: number;
    readonly checkpointPosition: number;
    readonly replacedAt: Date;
  } | null;
  readonly tables: readonly string[];
  /**
   * From this process's projector when it runs one; otherwise `running` when some process holds
   * the projection's lock, `stopped` when none does.
   */
  readonly status: ProjectionState;
  readonly lastErrorCode: string | null;
  /** `<transactionId>/<position>`, null before the first batch. */
  readonly checkpoint: string | null;
  readonly checkpointPosition: number;
  readonly headPosition: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly lastAppliedAt: Date | null;
  readonly rebuild: RebuildProgress | null;
  /** When the projection runs split into segments: each segment's checkpoint and lag. */
  readonly segments: readonly SegmentView[];
}

export interface SegmentView {
  /** `<index>/<count>` */
  readonly segment: string;
  readonly checkpointPosition: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly lastAppliedAt: Date;
}

/** What the admin API and the metrics say about projections. */
export class ProjectionOperations {
  constructor(
    readonly catalog: ProjectionCatalog,
    private readonly status: ProjectionStatusReader,
    readonly rebuilder: ProjectionRebuilder,
    private readonly store: EventStore,
  ) {}

  async list(): Promise<ProjectionView[]> {
    const head = await this.store.head();
    const views: ProjectionView[] = [];
    for (const projection of this.catalog.all)
      views.push(await this.view(projection, head.position));
    return views;
  }

  async get(name: string): Promise<ProjectionView> {
    const projection = this.catalog.getOrThrow(name);
    return this.view(projection, (await this.store.head()).position);
  }

  private async view(projection: Projection, headPosition: bigint): Promise<ProjectionView> {
    const {
      checkpoint,
      updatedAt,
      version: builtVersion,
    } = await this.status.checkpoint(projection);
    const previous = await this.rebuilder.previousVersion(projection.name);
    const lag = await this.status.lag(checkpoint);
    const rebuild = await this.rebuilder.latest(projection.name);
    const segments: SegmentView[] = [];
    for (const row of await this.status.segmentCheckpoints(projection)) {
      const segmentLag = await this.status.lag(row.checkpoint);
      segments.push({
        segment: row.segment,
        checkpointPosition: Number(row.checkpoint.position),
        lagEvents: segmentLag.events,
        lagSeconds: Math.round(segmentLag.seconds * 1000) / 1000,
        lastAppliedAt: row.updatedAt,
      });
    }
    const local = this.catalog.localStatus(projection.name);
    let status: ProjectionState;
    if (rebuild?.status === 'running') status = 'rebuilding';
    else if (local) status = local.state === 'yielded' ? 'paused' : local.state;
    else status = (await this.status.lockHeld(projection)) ? 'running' : 'stopped';
    return {
      name: projection.name,
      version: projection.version,
      builtVersion,
      previousVersion: previous && {
        version: previous.version,
        checkpointPosition: Number(previous.checkpoint.position),
        replacedAt: previous.replacedAt,
      },
      tables: projection.tables ?? [],
      status,
      lastErrorCode: local?.lastErrorCode ?? null,
      checkpoint: compareCheckpoints(checkpoint, START) === 0 ? null : formatCheckpoint(checkpoint),
      checkpointPosition: Number(checkpoint.position),
      headPosition: Number(headPosition),
      lagEvents: lag.events,
      lagSeconds: Math.round(lag.seconds * 1000) / 1000,
      lastAppliedAt: updatedAt,
      rebuild,
      segments,
    };
  }
}
