import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditLog } from '../../auth/audit-log';
import { LOGGER } from '../../common/logger';
import { resolveMasterKey } from '../../config/master-key-file';
import type { Runtime } from '../../platform/runtime';
import { RUNTIME } from '../../platform/tokens';
import { ConsentController } from './consent.controller';
import { IdentifierHasher, SuppressionList } from './suppression-list';
import { SuppressionsController } from './suppressions.controller';

/**
 * Consent and suppression, served by every process: the consent view of a profile (analyst),
 * the suppression admin API, and the suppression list the recorder checks (RecorderModule
 * imports this module, so both share one instance).
 */
@Module({
  controllers: [ConsentController, SuppressionsController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: SuppressionList,
      inject: [RUNTIME, LOGGER],
      // The hash secret is derived from the master key the runtime started with (same source).
      useFactory: async (runtime: Runtime, logger: Logger) =>
        new SuppressionList(
          runtime.pool,
          IdentifierHasher.fromMasterKey(await resolveMasterKey(runtime.config.masterKey, logger)),
        ),
    },
  ],
  exports: [SuppressionList],
})
export class ConsentModule {}
