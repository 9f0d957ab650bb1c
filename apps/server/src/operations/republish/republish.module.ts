import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditLog } from '../../auth/audit-log';
import { LOGGER } from '../../common/logger';
import type { Runtime } from '../../platform/runtime';
import { RUNTIME } from '../../platform/tokens';
import { RepublishJobStore } from './republish-job-store';
import { KafkaRepublishSink } from './republish-sink';
import { RepublishController } from './republish.controller';
import { Republisher } from './republisher';

/** Republish of the stored history to a Kafka topic (admin API); its table is in the operations migrations. */
@Module({
  controllers: [RepublishController],
  providers: [
    {
      provide: AuditLog,
      inject: [RUNTIME],
      useFactory: (runtime: Runtime) => new AuditLog(runtime.pool),
    },
    {
      provide: Republisher,
      inject: [RUNTIME, LOGGER],
      useFactory: (runtime: Runtime, logger: Logger) => {
        const transport = runtime.config.transport;
        const log = logger.child({ component: 'republish' });
        const sinks =
          transport.kind === 'kafka'
            ? () =>
                new KafkaRepublishSink({
                  brokers: transport.brokers,
                  clientId: transport.clientId,
                  logger: {
                    info: (message, fields) => log.info({ ...fields }, message),
                    warn: (message, fields) => log.warn({ ...fields }, message),
                    error: (message, fields) => log.error({ ...fields }, message),
                  },
                })
            : null;
        return new Republisher(
          new RepublishJobStore(runtime.pool),
          // The stored (sealed) form: what lands on Kafka holds no personal data in the clear,
          // and becomes unreadable there too once a customer's keys are destroyed.
          runtime.sealedEventStore,
          sinks,
          runtime.topics.all,
          log,
        );
      },
    },
  ],
})
export class RepublishModule implements OnApplicationShutdown {
  constructor(@Inject(Republisher) private readonly republisher: Republisher) {}

  async onApplicationShutdown(): Promise<void> {
    await this.republisher.stopAll();
  }
}
