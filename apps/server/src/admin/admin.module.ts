import { Module } from '@nestjs/common';
import { AuditLog } from '../auth/audit-log';
import { CollectorService } from '../collector/collector.service';
import { DeadLetterStore } from '../dead-letters/dead-letter.store';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { AdminController } from './admin.controller';
import { DeadLetterResubmitter } from './dead-letter-resubmitter';

/** Served by every process, so any instance can be administered; admin keys only. */
@Module({
  controllers: [AdminController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: DeadLetterStore,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new DeadLetterStore(runtime.pool),
    },
    {
      provide: DeadLetterResubmitter,
      inject: [RUNTIME, DeadLetterStore],
      useFactory: (runtime: Runtime, store: DeadLetterStore) => {
        const publisher = runtime.transport.publisher();
        return new DeadLetterResubmitter(
          store,
          new CollectorService(publisher, runtime.topics),
          publisher,
          runtime.topics,
        );
      },
    },
  ],
})
export class AdminModule {}
