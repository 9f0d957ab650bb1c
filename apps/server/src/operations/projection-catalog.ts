import type { Projector, ProjectorStatus } from '../projector/projector';
import type { Projection } from '../projector/projection';
import { ProjectionOperationError } from './projection-operations.exception';

/**
 * The projections this server knows, and this process's live projectors of them (only when it
 * runs the projector role). Every process knows the projections, so any process can list and
 * rebuild them.
 */
export class ProjectionCatalog {
  private resolved: {
    byName: ReadonlyMap<string, Projection>;
    projectors: ReadonlyMap<string, Projector>;
  } | null = null;

  /** `resolve` runs on first use, once every provider of the application exists. */
  constructor(
    private readonly resolve: () => {
      projections: readonly Projection[];
      liveProjectors: readonly Projector[];
    },
  ) {}

  private get byName(): ReadonlyMap<string, Projection> {
    return this.load().byName;
  }

  private get projectors(): ReadonlyMap<string, Projector> {
    return this.load().projectors;
  }

  private load() {
    if (!this.resolved) {
      const { projections, liveProjectors } = this.resolve();
      this.resolved = {
        byName: new Map(projections.map((p) => [p.name, p])),
        projectors: new Map(liveProjectors.map((p) => [p.projection.name, p])),
      };
    }
    return this.resolved;
  }

  get all(): readonly Projection[] {
    return [...this.byName.values()];
  }

  getOrThrow(name: string): Projection {
    const projection = this.byName.get(name);
    if (!projection) {
      const known = [...this.byName.keys()];
      throw new ProjectionOperationError(
        'UNKNOWN_PROJECTION',
        `No projection named "${name.slice(0, 100)}"; known: ${known.join(', ')}`,
        { known },
      );
    }
    return projection;
  }

  localProjector(name: string): Projector | undefined {
    return this.projectors.get(name);
  }

  localStatus(name: string): ProjectorStatus | null {
    return this.projectors.get(name)?.status ?? null;
  }
}
