import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { MessageConsumer } from '@touchline/messaging';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { DeadLetterStore } from '../dead-letters/dead-letter.store';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { SuppressionList } from '../privacy/consent/suppression-list';
import { Recorder } from './recorder';

/** Runs the recorder as a consumer group member for as long as the application runs. */
@Injectable()
export class RecorderService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly recorder: Recorder;
  private consumer: MessageConsumer | null = null;

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SuppressionList) suppressions: SuppressionList,
  ) {
    this.recorder = new Recorder(
      runtime.eventStore,
      runtime.topics,
      new DeadLetterStore(runtime.pool),
      logger.child({ role: 'recorder' }),
      suppressions,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    const { topics, transport } = this.runtime;
    this.consumer = transport.consumer({
      groupId: topics.group('recorder'),
      topics: topics.all,
      fromBeginning: true,
    });
    await this.consumer.start((messages) => this.recorder.record(messages));
    this.logger.info({ role: 'recorder', topics: topics.all }, 'recorder consuming');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
