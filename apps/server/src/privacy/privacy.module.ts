import { Module } from '@nestjs/common';
import { AuditLog } from '../auth/audit-log';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { PrivacyController } from './privacy.controller';

@Module({
  controllers: [PrivacyController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
  ],
})
export class PrivacyModule {}
