import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
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
export class OperationsModule
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
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

  /**
   * A projection whose code is newer than the version that built its rows is rebuilt blue/green
   * by the first projector process that starts with the new code: the old rows keep serving
   * until the new version has caught up and the switch is made. Once per version: a second
   * process is refused by the running rebuild, and the switch records the new version.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.runtime.config.roles.has('projector')) return;
    const { rebuilder } = this.operations;
    // A rebuild this or another process left unfinished (it died): its row says so, and any
    // index it set aside is built again now rather than at the next rebuild.
    await rebuilder.recoverInterrupted(this.operations.catalog.all.map((p) => p.name));
    for (const projection of this.operations.catalog.all) {
      if (!projection.inSchema) continue;
      const { builtVersion } = await this.operations.get(projection.name);
      if (builtVersion === null || builtVersion >= projection.version) continue;
      const latest = await rebuilder.latest(projection.name);
      // Running already, or this very version failed to build before: an operator looks first.
      const failedBefore =
        latest?.status === 'failed' &&
        latest.mode === 'blue-green' &&
        latest.version === projection.version;
      if (latest?.status === 'running' || failedBefore) continue;
      try {
        const started = await rebuilder.start(projection, {
          strategy: 'blue-green',
          actorKeyId: null,
        });
        this.logger.info(
          {
            projection: projection.name,
            builtVersion,
            version: projection.version,
            rebuildId: started.id,
          },
          'projection version changed: blue/green rebuild started',
        );
      } catch (error) {
        this.logger.warn(
          { err: error, projection: projection.name },
          'projection version changed, but the blue/green rebuild did not start',
        );
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.operations.rebuilder.stopAll();
  }
}
