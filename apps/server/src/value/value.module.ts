import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { runMigrations } from '@touchline/platform';
import type { CountryCode } from '@touchline/touchpoints';
import type { Logger } from 'pino';
import { AuditLog } from '../auth/audit-log';
import { churnMigrationSet } from '../churn/churn.migrations';
import { LOGGER } from '../common/logger';
import { ImportController } from '../import/import.controller';
import { RowImporter } from '../import/row-importer';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { ClvRefitScheduler } from './clv-refit-scheduler';
import { ClvService } from './clv.service';
import { ProspectRiskQueries } from './prospect-risk-queries';
import { loadValueConfigOrThrow, type ValueConfig } from './value-config';
import { ClvAdminController, ValueController } from './value.controller';
import { valueQuestionsMigrationSet } from './value-questions.migrations';
import { ValueQueries } from './value-queries';
import { VALUE_CONFIG } from './value.tokens';

/**
 * Customer value: bulk import of orders and contacts, CLV fits (on demand, and on a schedule in
 * the projector role) and scores, value queries, prospects and risks. Served by every process,
 * like the admin API; the historical-value projection runs in the projector role.
 */
@Module({
  controllers: [ImportController, ClvAdminController, ValueController],
  providers: [
    { provide: VALUE_CONFIG, useFactory: () => loadValueConfigOrThrow(process.env) },
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: RowImporter,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) =>
        new RowImporter(
          runtime.transport.publisher(),
          runtime.topics,
          (runtime.config.defaultCountry as CountryCode | null) ?? null,
        ),
    },
    {
      provide: ClvService,
      inject: [RUNTIME, VALUE_CONFIG],
      useFactory: (runtime: Runtime, config: ValueConfig) =>
        new ClvService(runtime.pool, config.fx.base),
    },
    {
      provide: ValueQueries,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new ValueQueries(runtime.pool),
    },
    {
      provide: ProspectRiskQueries,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new ProspectRiskQueries(runtime.pool),
    },
    {
      provide: ClvRefitScheduler,
      inject: [RUNTIME, ClvService, VALUE_CONFIG, LOGGER],
      useFactory: (runtime: Runtime, clv: ClvService, config: ValueConfig, logger: Logger) =>
        new ClvRefitScheduler(runtime.pool, clv, config.refitHours, logger, () => new Date()),
    },
  ],
})
export class ValueModule implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(ClvRefitScheduler) private readonly scheduler: ClvRefitScheduler,
  ) {}

  async onModuleInit(): Promise<void> {
    // The views read the churn flags: that set first (a no-op when the churn module ran it).
    await runMigrations(this.runtime.pool, churnMigrationSet);
    await runMigrations(this.runtime.pool, valueQuestionsMigrationSet);
  }

  onApplicationBootstrap(): void {
    if (this.runtime.config.roles.has('projector')) this.scheduler.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.scheduler.stop();
  }
}
