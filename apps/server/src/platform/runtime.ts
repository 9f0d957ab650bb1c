import { mkdir } from 'node:fs/promises';
import type { EventStore } from '@touchline/event-store';
import { eventStoreMigrations, PostgresEventStore } from '@touchline/event-store-postgres';
import {
  InProcessTransport,
  type IngestTopics,
  ingestTopics,
  type Transport,
} from '@touchline/messaging';
import { KafkaTransport } from '@touchline/messaging-kafka';
import { profilesMigrationSet } from '../profiles/profiles.migrations';
import { crossSellMigrationSet } from '../cross-sell/cross-sell.migrations';
import { consentMigrationSet } from '../privacy/consent/consent.migrations';
import { createPool, runMigrations, startEmbeddedPostgres } from '@touchline/platform';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { TouchlineConfig } from '../config/config';
import { resolveMasterKey } from '../config/master-key-file';
import { EncryptingEventStore } from '../privacy/crypto/encrypting-event-store';
import { type DerivedKeys, deriveKeys, verifyMasterKeyOrThrow } from '../privacy/crypto/master-key';
import { PostgresSubjectKeyStore } from '../privacy/crypto/subject-key-store';
import { privacyMigrationSet } from '../privacy/privacy.migrations';
import { serverMigrationSet } from '../migrations/server.migrations';

/**
 * The connections every role shares, opened once before Nest starts and closed after it stops.
 * Embedded mode starts PGlite behind a PostgreSQL socket so the rest of the code sees plain `pg`.
 */
export class Runtime {
  private constructor(
    readonly config: TouchlineConfig,
    readonly pool: Pool,
    readonly databaseUrl: string,
    /**
     * The event store every role uses: personal data is sealed per customer on the way in and
     * opened on the way out (crypto-shredding), so callers see plaintext events.
     */
    readonly eventStore: EncryptingEventStore,
    /**
     * The same store without the decorator: pseudonymous stream ids and sealed fields, as
     * stored. Only for what must never see personal data in the clear (republish to Kafka).
     */
    readonly sealedEventStore: EventStore,
    readonly transport: Transport,
    readonly topics: IngestTopics,
    private readonly stopEmbedded: (() => Promise<void>) | null,
  ) {}

  static async start(config: TouchlineConfig, logger: Logger): Promise<Runtime> {
    let stopEmbedded: (() => Promise<void>) | null = null;
    let databaseUrl: string;
    if (config.database.kind === 'embedded') {
      await mkdir(config.database.dataDir, { recursive: true });
      const embedded = await startEmbeddedPostgres({ dataDir: config.database.dataDir, port: 0 });
      stopEmbedded = () => embedded.stop();
      databaseUrl = embedded.url;
      // No password: PGlite listens on 127.0.0.1 only. Logged so analysts can point psql at it.
      logger.info(
        { dataDir: config.database.dataDir, embeddedDatabaseUrl: embedded.url },
        'embedded database started',
      );
    } else {
      databaseUrl = config.database.url;
    }
    const pool = createPool(databaseUrl);
    let keys: DerivedKeys;
    try {
      const masterKey = await resolveMasterKey(config.masterKey, logger);
      await runMigrations(pool, { name: 'event_store', migrations: eventStoreMigrations });
      await runMigrations(pool, serverMigrationSet);
      await runMigrations(pool, profilesMigrationSet);
      await runMigrations(pool, crossSellMigrationSet);
      await runMigrations(pool, consentMigrationSet);
      await runMigrations(pool, privacyMigrationSet);
      await verifyMasterKeyOrThrow(pool, masterKey);
      keys = deriveKeys(masterKey);
    } catch (error) {
      await pool.end();
      await stopEmbedded?.();
      throw error;
    }
    // A 50 ms idle poll keeps HTTP-to-read-model latency low at the cost of a cheap query per poll.
    const sealedEventStore = new PostgresEventStore({ pool, pollIntervalMs: 50 });
    const eventStore = new EncryptingEventStore(
      sealedEventStore,
      new PostgresSubjectKeyStore(pool, keys.keyWrappingKey),
      { pseudonymSecret: keys.pseudonymSecret },
    );
    const transport: Transport =
      config.transport.kind === 'kafka'
        ? new KafkaTransport({
            brokers: [...config.transport.brokers],
            clientId: config.transport.clientId,
            // One partition's batch at a time per partition, all partitions at once: the
            // recorder's appends overlap their database round trips.
            partitionsConsumedConcurrently: config.transport.partitions,
            logger: {
              info: (message, fields) => logger.info({ component: 'kafka', ...fields }, message),
              warn: (message, fields) => logger.warn({ component: 'kafka', ...fields }, message),
              error: (message, fields) => logger.error({ component: 'kafka', ...fields }, message),
            },
          })
        : new InProcessTransport();
    const topics = ingestTopics(config.topicPrefix);
    const { partitions, deadLetterRetentionMs, ingestRetentionMs } =
      config.transport.kind === 'kafka'
        ? config.transport
        : { partitions: 6, deadLetterRetentionMs: undefined, ingestRetentionMs: undefined };
    await transport.ensureTopics(
      topics.all.map((name) => ({
        name,
        partitions,
        retentionMs: name === topics.deadLetters ? deadLetterRetentionMs : ingestRetentionMs,
      })),
    );
    return new Runtime(
      config,
      pool,
      databaseUrl,
      eventStore,
      sealedEventStore,
      transport,
      topics,
      stopEmbedded,
    );
  }

  async stop(): Promise<void> {
    await this.transport.close();
    await this.eventStore.close();
    await this.pool.end();
    await this.stopEmbedded?.();
  }
}
