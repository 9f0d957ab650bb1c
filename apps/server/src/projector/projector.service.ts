import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@touchline/event-store';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { DATABASE_POOL, EVENT_STORE } from '../platform/tokens';
import { activityProjection } from './activity.projection';
import { Projector } from './projector';

/** Runs every projection's projector while the application runs. */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly projectors: readonly Projector[];

  constructor(
    @Inject(DATABASE_POOL) pool: Pool,
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.projectors = [new Projector(pool, store, activityProjection, logger.child({ role: 'projector' }))];
  }

  onApplicationBootstrap(): void {
    for (const projector of this.projectors) projector.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.projectors.map((p) => p.stop()));
  }
}
