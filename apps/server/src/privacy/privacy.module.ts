import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditLog } from '../auth/audit-log';
import { LOGGER } from '../common/logger';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { CustomerErasure } from './erasure/customer-erasure';
import { PrivacyController } from './privacy.controller';

@Module({
  controllers: [PrivacyController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: CustomerErasure,
      inject: [RUNTIME, LOGGER],
      useFactory: (runtime: Runtime, logger: Logger) =>
        new CustomerErasure(
          runtime.pool,
          runtime.eventStore,
          logger.child({ component: 'erasure' }),
        ),
    },
  ],
})
export class PrivacyModule {}
