import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommand, type ICommandHandler } from '@nestjs/cqrs';
import { deadLetterMessage, newDeadLetter } from '../dead-letters/dead-letter';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';

/** A whole request body refused (not JSON, too large, wrong shape): kept raw with the reason. */
export class RejectBodyCommand implements ICommand {
  constructor(
    readonly rejection: {
      readonly sourceId: string;
      readonly endpoint: string;
      readonly receivedAt: Date;
      readonly reasonCode: string;
      readonly reason: string;
      readonly raw: Buffer;
    },
  ) {}
}

@CommandHandler(RejectBodyCommand)
export class RejectBodyHandler implements ICommandHandler<RejectBodyCommand, void> {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  async execute({ rejection }: RejectBodyCommand): Promise<void> {
    const { transport, topics } = this.runtime;
    await transport.publisher().publish([deadLetterMessage(topics, newDeadLetter(rejection))]);
  }
}
