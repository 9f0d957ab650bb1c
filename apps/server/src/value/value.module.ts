import { Module } from '@nestjs/common';
import { AuditLog } from '../auth/audit-log';
import { ImportController } from '../import/import.controller';
import { OrderImporter } from '../import/order-importer';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { ClvService } from './clv.service';
import { loadValueConfigOrThrow, type ValueConfig } from './value-config';
import { ClvAdminController, ValueController } from './value.controller';
import { ValueQueries } from './value-queries';
import { VALUE_CONFIG } from './value.tokens';

/**
 * Customer value: bulk import of orders, CLV fits and scores, value queries. Served by every
 * process, like the admin API; the historical-value projection runs in the projector role.
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
      provide: OrderImporter,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) =>
        new OrderImporter(runtime.transport.publisher(), runtime.topics),
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
  ],
})
export class ValueModule {}
