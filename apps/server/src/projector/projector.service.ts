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
import { customerProfileProjectionFromEnv } from '../profiles/customer-profile.projection-config';
import { customerProductsProjection } from '../cross-sell/customer-products.projection';

/** Runs every projection's projector while the application runs. */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly projectors: readonly Projector[];

  constructor(@Inject(RUNTIME) runtime: Runtime, @Inject(LOGGER) logger: Logger) {
    const projectorLogger = logger.child({ role: 'projector' });
    const control = new RebuildControl(runtime.pool);
    this.projectors = [
      activityProjection,
      webTouchpointsProjection,
      customerValueProjectionFromEnv(process.env),
      customerProfileProjectionFromEnv(process.env),
      customerProductsProjection,
    ].map(
      (projection) =>
        new Projector(runtime.pool, runtime.eventStore, projection, projectorLogger, { control }),
    );
  }

  onApplicationBootstrap(): void {
    for (const projector of this.projectors) projector.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.projectors.map((p) => p.stop()));
  }
}
