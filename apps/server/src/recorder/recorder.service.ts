import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@touchline/event-store';
import { ALL_INGEST_TOPICS, type MessageConsumer, type Transport } from '@touchline/messaging';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { DeadLetterStore } from '../dead-letters/dead-letter.store';
import { DATABASE_POOL, EVENT_STORE, TRANSPORT } from '../platform/tokens';
import { Recorder } from './recorder';

export const RECORDER_GROUP_ID = 'touchline-recorder';

/** Runs the recorder as a consumer group member for as long as the application runs. */
@Injectable()
export class RecorderService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly recorder: Recorder;
  private consumer: MessageConsumer | null = null;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    @Inject(DATABASE_POOL) pool: Pool,
    @Inject(TRANSPORT) private readonly transport: Transport,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.recorder = new Recorder(store, new DeadLetterStore(pool), logger.child({ role: 'recorder' }));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = this.transport.consumer({ groupId: RECORDER_GROUP_ID, topics: ALL_INGEST_TOPICS, fromBeginning: true });
    await this.consumer.start((messages) => this.recorder.record(messages));
    this.logger.info({ role: 'recorder', topics: ALL_INGEST_TOPICS }, 'recorder consuming');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
