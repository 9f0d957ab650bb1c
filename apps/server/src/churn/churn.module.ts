import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { runMigrations } from '@touchline/platform';
import type { Logger } from 'pino';
import { AuditLog } from '../auth/audit-log';
import { LOGGER } from '../common/logger';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { ChurnEvaluator } from './churn-evaluator';
import { ChurnQueries } from './churn-queries';
import { ChurnScheduler } from './churn-scheduler';
import { type ChurnSettings, loadChurnSettingsOrThrow } from './churn-settings';
import { ChurnAdminController, ChurnController } from './churn.controller';
import { churnMigrationSet } from './churn.migrations';
import { CHURN_CLOCK, CHURN_SETTINGS } from './churn.tokens';

/**
 * Churn flags with reasons: evaluation on demand (admin API, CLI) in every process, on a
 * schedule in the projector role, and the flags and their history for analysts.
 */
@Module({
  controllers: [ChurnAdminController, ChurnController],
  providers: [
    { provide: CHURN_SETTINGS, useFactory: () => loadChurnSettingsOrThrow(process.env) },
    { provide: CHURN_CLOCK, useValue: () => new Date() },
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: ChurnEvaluator,
      inject: [RUNTIME, LOGGER, CHURN_CLOCK],
      useFactory: (runtime: Runtime, logger: Logger, clock: () => Date) =>
        new ChurnEvaluator(runtime.pool, logger, clock),
    },
    {
      provide: ChurnQueries,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new ChurnQueries(runtime.pool),
    },
    {
      provide: ChurnScheduler,
      inject: [RUNTIME, ChurnEvaluator, CHURN_SETTINGS, LOGGER, CHURN_CLOCK],
      useFactory: (
        runtime: Runtime,
        evaluator: ChurnEvaluator,
        settings: ChurnSettings,
        logger: Logger,
        clock: () => Date,
      ) => new ChurnScheduler(runtime.pool, evaluator, settings, logger, clock),
    },
  ],
})
export class ChurnModule implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ChurnEvaluator) private readonly evaluator: ChurnEvaluator,
    @Inject(ChurnScheduler) private readonly scheduler: ChurnScheduler,
  ) {}

  async onModuleInit(): Promise<void> {
    await runMigrations(this.runtime.pool, churnMigrationSet);
  }

  onApplicationBootstrap(): void {
    if (this.runtime.config.roles.has('projector')) this.scheduler.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler.stop();
    await this.evaluator.stop();
  }
}
