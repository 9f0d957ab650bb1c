import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { runMigrations } from '@touchline/platform';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuditLog } from '../auth/audit-log';
import { LOGGER } from '../common/logger';
import { MetricsController, METRICS_ACCESS } from '../metrics/metrics.controller';
import { metricsAccessFrom } from '../metrics/metrics-access';
import { registerProjectionMetrics } from '../metrics/projection-metrics';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { ProjectorService } from '../projector/projector.service';
import { OperationsController } from './operations.controller';
import { operationsMigrationSet } from './operations.migrations';
import { ProjectionCatalog } from './projection-catalog';
import { ProjectionOperations } from './projection-operations';
import { ProjectionRebuilder } from './projection-rebuilder';
import { ProjectionStatusReader } from './projection-status';
import { registerRequestLogging } from './request-logging';
import { RepublishModule } from './republish/republish.module';

/**
 * Visibility and projection operations, in every process: /metrics, request logs with
 * correlation ids, and the projections admin API (list, rebuild, cancel).
 */
@Module({
  imports: [RepublishModule],
  controllers: [OperationsController, MetricsController],
  providers: [
    { provide: METRICS_ACCESS, useFactory: () => metricsAccessFrom(process.env) },
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: ProjectionOperations,
      inject: [RUNTIME, LOGGER, ModuleRef],
      useFactory: (runtime: Runtime, logger: Logger, moduleRef: ModuleRef) => {
        const catalog = new ProjectionCatalog(() => {
          // The projector role's live service when this process runs it; otherwise an idle
          // one, only to know the projections (its projectors are never started).
          let live: ProjectorService | null = null;
          try {
            live = moduleRef.get(ProjectorService, { strict: false });
          } catch {
            live = null;
          }
          const service = live ?? new ProjectorService(runtime, logger);
          return {
            projections: service.projections,
            liveProjectors: live ? live.projectors : [],
          };
        });
        const status = new ProjectionStatusReader(runtime.pool);
        const rebuilder = new ProjectionRebuilder(
          runtime.pool,
          runtime.eventStore,
          status,
          (name) => catalog.localProjector(name),
          logger.child({ component: 'rebuild' }),
        );
        return new ProjectionOperations(catalog, status, rebuilder, runtime.eventStore);
      },
    },
  ],
})
export class OperationsModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ProjectionOperations) private readonly operations: ProjectionOperations,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async onModuleInit(): Promise<void> {
    await runMigrations(this.runtime.pool, operationsMigrationSet);
    // Resolve the catalog now: every provider exists, and a bad projection list fails start-up.
    void this.operations.catalog.all;
    registerProjectionMetrics(this.operations, this.runtime.pool);
    registerRequestLogging(
      this.adapterHost.httpAdapter.getInstance<FastifyInstance>(),
      this.logger,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.operations.rebuilder.stopAll();
  }
}
