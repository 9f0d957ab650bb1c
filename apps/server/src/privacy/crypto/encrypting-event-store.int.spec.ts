import { randomBytes, randomUUID } from 'node:crypto';
import type { NewEvent } from '@touchline/event-store';
import { describeEventStoreContract, readAllStored } from '@touchline/event-store/testing';
import {
  appendToStreamWithin,
  eventStoreMigrationSet,
  PostgresEventStore,
} from '@touchline/event-store-postgres';
import { createPool, runMigrations } from '@touchline/platform';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import { privacyMigrationSet } from '../privacy.migrations';
import { EncryptingEventStore } from './encrypting-event-store';
import { PostgresSubjectKeyStore } from './subject-key-store';

jest.setTimeout(60_000);

const masterKey = randomBytes(32);
const pseudonymSecret = randomBytes(32);

describe.each(testDatabaseTargets())('EncryptingEventStore on $name', (target) => {
  // The decorated store is an event store like any other: the same contract, every guarantee.
  describeEventStoreContract(
    `encrypting over postgres (${target.name})`,
    async () => {
      const database = await target.create();
      const pool = createPool(database.url, { max: 12 });
      await runMigrations(pool, eventStoreMigrationSet);
      await runMigrations(pool, privacyMigrationSet);
      const store = new EncryptingEventStore(
        new PostgresEventStore({ pool, pollIntervalMs: 20 }),
        new PostgresSubjectKeyStore(pool, masterKey),
        { pseudonymSecret },
      );
      return {
        store,
        beginAppend: async (streamId, events) => {
          const [sealed] = await store.seal([{ streamId, events }]);
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            await appendToStreamWithin(client, store.subjectOf(streamId), sealed?.events ?? []);
          } catch (error) {
            await client.query('ROLLBACK');
            client.release();
            throw error;
          }
          const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
            try {
              await client.query(sql);
            } finally {
              client.release();
            }
          };
          return { commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
        },
        teardown: async () => {
          await store.close();
          await pool.end();
          await database.drop();
        },
      };
    },
    { transactions: true, interleavesTransactions: target.interleavesTransactions },
  );

  describe('crypto-shredding', () => {
    let database: TestDatabase;
    let pool: Pool;
    let store: EncryptingEventStore;

    beforeAll(async () => {
      database = await target.create();
      pool = createPool(database.url);
      await runMigrations(pool, eventStoreMigrationSet);
      await runMigrations(pool, privacyMigrationSet);
      store = new EncryptingEventStore(
        new PostgresEventStore({ pool, pollIntervalMs: 20 }),
        new PostgresSubjectKeyStore(pool, masterKey),
        { pseudonymSecret },
      );
    });

    afterAll(async () => {
      await store.close();
      await pool.end();
      await database.drop();
    });

    /** Every event stored so far, through `reader` (readAllStored: waits until all are readable). */
    const readEverything = async (reader: EncryptingEventStore) => {
      const { rows } = await pool.query<{ stored: string }>(
        'SELECT count(*) AS stored FROM event_store.events',
      );
      return readAllStored(reader, Number(rows[0]?.stored ?? 0));
    };

    const person = () => {
      const tag = randomUUID().slice(0, 8);
      return {
        email: `ada.${tag}@example.com`,
        userId: `ada-${tag}`,
        name: `Ada Lovelace ${tag}`,
        // Unique per person (IPv6 documentation range), so no two people share one by chance.
        ip: `2001:db8::${tag.slice(0, 4)}:${tag.slice(4, 8)}`,
      };
    };
    const identify = (p: ReturnType<typeof person>): NewEvent => ({
      eventId: randomUUID(),
      type: 'UserIdentified',
      schemaVersion: 1,
      data: {
        userId: p.userId,
        anonymousId: null,
        traits: { email: p.email, name: p.name, plan: 'pro' },
        context: { ip: p.ip, locale: 'en-GB' },
      },
      metadata: { occurredAt: '2026-11-01T10:00:00.000Z', channel: 'web' },
    });
    const opened = (p: ReturnType<typeof person>): NewEvent => ({
      eventId: randomUUID(),
      type: 'EmailOpened',
      schemaVersion: 1,
      data: { recipient: p.email, campaignId: 'spring', provider: 'sendgrid' },
      metadata: { occurredAt: '2026-11-02T10:00:00.000Z', channel: 'email' },
    });
    /** Every stored byte of the event store and the key table, as text. */
    const storedText = async () => {
      const events = await pool.query<{ row: string }>(
        'SELECT e::text AS row FROM event_store.events e',
      );
      const streams = await pool.query<{ row: string }>(
        'SELECT s::text AS row FROM event_store.streams s',
      );
      const keys = await pool.query<{ row: string }>(
        'SELECT k::text AS row FROM privacy.subject_keys k',
      );
      return [...events.rows, ...streams.rows, ...keys.rows].map((r) => r.row).join('\n');
    };

    it('stores no personal data in the clear, and reads back what was appended', async () => {
      const ada = person();
      const identified = identify(ada);
      const email = opened(ada);
      await store.ingest([
        { streamId: `user:${ada.userId}`, events: [identified] },
        { streamId: `email:${ada.email}`, events: [email] },
      ]);
      const stored = await storedText();
      for (const secret of [ada.email, ada.userId, ada.ip, ada.name]) {
        expect(stored).not.toContain(secret);
      }
      // What is not personal stays readable to SQL (campaigns, plans are not sealed: only the
      // schema's personal-data fields are).
      expect(stored).toContain('spring');

      const back = await store.readStream(`email:${ada.email}`);
      expect(back).toHaveLength(1);
      expect(back[0]).toMatchObject({
        streamId: `email:${ada.email}`,
        data: email.data,
        metadata: email.metadata,
      });
      const all = await readEverything(store);
      const mine = all.events.find((e) => e.eventId === identified.eventId);
      expect(mine).toMatchObject({ streamId: `user:${ada.userId}`, data: identified.data });
    });

    it('after the keys are destroyed, the same history reads back with the person gone', async () => {
      const ada = person();
      const grace = person();
      await store.ingest([
        { streamId: `user:${ada.userId}`, events: [identify(ada)] },
        { streamId: `email:${ada.email}`, events: [opened(ada)] },
        { streamId: `email:${grace.email}`, events: [opened(grace)] },
      ]);
      expect(await store.destroyKeysOf([`user:${ada.userId}`, `email:${ada.email}`])).toBe(2);
      expect(await store.destroyKeysOf([`email:${ada.email}`])).toBe(0);

      // Another process, with no cache: what any replay from zero would see.
      const replay = new EncryptingEventStore(
        new PostgresEventStore({ pool, pollIntervalMs: 20 }),
        new PostgresSubjectKeyStore(pool, masterKey),
        { pseudonymSecret },
      );
      const { events } = await readEverything(replay);
      const text = JSON.stringify(
        events.map(({ data, metadata, streamId }) => ({ data, metadata, streamId })),
      );
      for (const secret of [ada.email, ada.userId, ada.ip, ada.name]) {
        expect(text).not.toContain(secret);
      }
      const adaEmail = events.find((e) => e.streamId === replay.subjectOf(`email:${ada.email}`));
      expect(adaEmail?.data).toEqual({
        recipient: null,
        campaignId: 'spring',
        provider: 'sendgrid',
      });
      const adaIdentify = events.find((e) => e.streamId === replay.subjectOf(`user:${ada.userId}`));
      expect(adaIdentify?.data).toMatchObject({
        userId: null,
        traits: null,
        context: { ip: null, locale: 'en-GB' },
      });
      // Others are untouched.
      expect(text).toContain(grace.email);
      expect(await replay.readStream(`email:${grace.email}`)).toHaveLength(1);

      // The identifier comes back later: new data gets a new key; the old stays unreadable.
      const again = opened(ada);
      await store.ingest([{ streamId: `email:${ada.email}`, events: [again] }]);
      const stream = await replay.readStream(`email:${ada.email}`);
      expect(stream.map((e) => (e.data as { recipient: unknown }).recipient)).toEqual([
        null,
        ada.email,
      ]);
    });

    it('refuses to run with another master key instead of reading garbage', async () => {
      const ada = person();
      await store.ingest([{ streamId: `email:${ada.email}`, events: [opened(ada)] }]);
      const wrong = new EncryptingEventStore(
        new PostgresEventStore({ pool, pollIntervalMs: 20 }),
        new PostgresSubjectKeyStore(pool, randomBytes(32)),
        { pseudonymSecret },
      );
      await expect(wrong.readStream(`email:${ada.email}`)).rejects.toThrow(/master key/);
    });
  });
});
