import { Module } from '@nestjs/common';
import { AuditLog } from '../auth/audit-log';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { AffinityComputation } from './affinity-computation';
import { CrossSellAdminController, CrossSellController } from './cross-sell.controller';
import { CrossSellQueries } from './cross-sell-queries';

/**
 * Cross-sell: computing product affinity and the queries over it. Served by every process, like
 * the value API; the customer_products projection runs in the projector role.
 */
@Module({
  controllers: [CrossSellAdminController, CrossSellController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: AffinityComputation,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AffinityComputation(runtime.pool),
    },
    {
      provide: CrossSellQueries,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new CrossSellQueries(runtime.pool),
    },
  ],
})
export class CrossSellModule {}
