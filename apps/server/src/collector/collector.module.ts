import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { MessagePublisher } from '@touchline/messaging';
import { PUBLISHER } from '../platform/tokens';
import { CollectorController } from './collector.controller';
import { CollectorService } from './collector.service';
import { IngestMessagesHandler } from './ingest-messages.command';
import { RejectBodyHandler } from './reject-body.command';

@Module({
  imports: [CqrsModule],
  controllers: [CollectorController],
  providers: [
    { provide: CollectorService, inject: [PUBLISHER], useFactory: (publisher: MessagePublisher) => new CollectorService(publisher) },
    IngestMessagesHandler,
    RejectBodyHandler,
  ],
})
export class CollectorModule {}
