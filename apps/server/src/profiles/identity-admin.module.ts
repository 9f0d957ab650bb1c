import { Module } from '@nestjs/common';
import { AuditLog } from '../auth/audit-log';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { customerProfileProjectionFromEnv } from './customer-profile.projection-config';
import { IdentityAdminController } from './identity-admin.controller';
import { CUSTOMER_PROFILE_PROJECTION } from './profiles.tokens';

/** Admin corrections of the identity graph (unmerge), on every role like the other admin calls. */
@Module({
  controllers: [IdentityAdminController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: CUSTOMER_PROFILE_PROJECTION,
      useFactory: () => customerProfileProjectionFromEnv(process.env),
    },
  ],
})
export class IdentityAdminModule {}
