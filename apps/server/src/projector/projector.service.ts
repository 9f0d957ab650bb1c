import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { activityProjection } from './activity.projection';
import { webTouchpointsProjection } from './web-touchpoints.projection';
import { customerValueProjectionFromEnv } from '../value/customer-value.projection';
import { RebuildControl } from '../operations/rebuild-control';
import { Projector } from './projector';
import type { Projection } from './projection';
import { customerProfileProjectionFromEnv } from '../profiles/customer-profile.projection-config';
import { customerProductsProjection } from '../cross-sell/customer-products.projection';
import { consentHistoryProjectionFromEnv } from '../privacy/consent/consent-history.projection';
import { SegmentBalancer } from './segment-balancer';
import {
  isSegmentable,
  parseSegmentsSetting,
  ProjectionSegment,
  SegmentSettingError,
} from './segments';

/**
 * Runs every projection's projector while the application runs. A projection split into
 * segments (TOUCHLINE_PROJECTION_SEGMENTS) gets one projector per segment and a balancer that
 * spreads the segments over the processes running them.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The projections, whole (what operations list, rebuild and report). */
  readonly projections: readonly Projection[];
  /** This process's projectors: one per projection, or one per segment of a split one. */
  readonly projectors: readonly Projector[];
  private readonly balancers: SegmentBalancer[] = [];

  constructor(@Inject(RUNTIME) runtime: Runtime, @Inject(LOGGER) logger: Logger) {
    const projectorLogger = logger.child({ role: 'projector' });
    const control = new RebuildControl(runtime.pool);
    this.projections = [
      activityProjection,
      webTouchpointsProjection,
      customerValueProjectionFromEnv(process.env),
      customerProfileProjectionFromEnv(process.env),
      customerProductsProjection,
      consentHistoryProjectionFromEnv(process.env),
    ];
    const segments = parseSegmentsSetting(
      process.env['TOUCHLINE_PROJECTION_SEGMENTS'],
      this.projections,
    );
    const runHere = projectionsToRun(process.env['TOUCHLINE_PROJECTIONS'], this.projections);
    const projectors: Projector[] = [];
    for (const projection of this.projections.filter((p) => runHere.has(p.name))) {
      const count = segments.get(projection.name) ?? 1;
      if (count === 1 || !isSegmentable(projection)) {
        projectors.push(
          new Projector(runtime.pool, runtime.eventStore, projection, projectorLogger, { control }),
        );
        continue;
      }
      const balancer = new SegmentBalancer(
        runtime.pool,
        projection.name,
        count,
        control,
        projectorLogger,
      );
      const own = Array.from(
        { length: count },
        (_, index) =>
          new Projector(
            runtime.pool,
            runtime.eventStore,
            new ProjectionSegment(projection, index, count),
            projectorLogger,
            { control: balancer },
          ),
      );
      balancer.attach(own);
      this.balancers.push(balancer);
      projectors.push(...own);
    }
    this.projectors = projectors;
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(this.balancers.map((balancer) => balancer.start()));
    for (const projector of this.projectors) projector.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.projectors.map((p) => p.stop()));
    await Promise.all(this.balancers.map((balancer) => balancer.stop()));
  }
}

/**
 * `TOUCHLINE_PROJECTIONS`: the projections this process runs, comma-separated (default: all), so
 * that a heavy projection can get processes of its own. Operations still list every projection.
 */
export function projectionsToRun(
  value: string | undefined,
  projections: readonly Projection[],
): Set<string> {
  const known = projections.map((p) => p.name);
  if (value === undefined || value.trim() === '') return new Set(known);
  const named = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = named.filter((name) => !known.includes(name));
  if (unknown.length > 0 || named.length === 0) {
    throw new SegmentSettingError(
      `TOUCHLINE_PROJECTIONS: ${unknown.length > 0 ? `no projection named ${unknown.map((n) => `"${n.slice(0, 60)}"`).join(', ')}` : 'names no projection'}; known: ${known.join(', ')}`,
    );
  }
  return new Set(named);
}
