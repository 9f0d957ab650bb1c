import { CommandHandler, type ICommand, type ICommandHandler } from '@nestjs/cqrs';
import { CollectorService, type IngestRequest, type ItemResult } from './collector.service';

export class IngestMessagesCommand implements ICommand {
  constructor(readonly request: IngestRequest) {}
}

@CommandHandler(IngestMessagesCommand)
export class IngestMessagesHandler implements ICommandHandler<IngestMessagesCommand, ItemResult[]> {
  constructor(private readonly collector: CollectorService) {}

  execute(command: IngestMessagesCommand): Promise<ItemResult[]> {
    return this.collector.ingest(command.request);
  }
}
