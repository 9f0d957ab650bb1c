import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { CollectorController } from './collector.controller';
import { CollectorService } from './collector.service';
import { RateLimiter } from './rate-limiter';
import { IngestMessagesHandler } from './ingest-messages.command';
import { RejectBodyHandler } from './reject-body.command';

@Module({
  imports: [CqrsModule],
  controllers: [CollectorController],
  providers: [
    {
      provide: CollectorService,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) =>
        new CollectorService(runtime.transport.publisher(), runtime.topics),
    },
    { provide: RateLimiter, useFactory: () => new RateLimiter() },
    IngestMessagesHandler,
    RejectBodyHandler,
  ],
})
export class CollectorModule {}
