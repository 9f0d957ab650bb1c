import { randomUUID } from 'node:crypto';
import type { StreamBatch } from '@touchline/event-store';
import { createPool, runMigrations } from '@touchline/platform';
import { testDatabaseTargets } from '@touchline/platform/testing';
import type { Pool } from 'pg';
import { eventStoreMigrationSet } from './migrations';
import { PostgresEventStore } from './postgres-event-store';

jest.setTimeout(120_000);

const batchCount = 10;
const eventsPerBatch = 500;

function makeBatches(): StreamBatch[][] {
  return Array.from({ length: batchCount }, () =>
    Array.from({ length: eventsPerBatch / 5 }, () => ({
      streamId: `customer-${randomUUID()}`,
      events: Array.from({ length: 5 }, (_, i) => ({
        eventId: randomUUID(),
        type: 'PageViewed',
        schemaVersion: 1,
        data: {
          url: `https://example.com/page/${i}`,
          referrer: 'https://search.example',
          width: 1280,
        },
        metadata: { sourceTopic: 'touchpoints.web', sourcePartition: 3, sourceOffset: String(i) },
      })),
    })),
  );
}

/** The baseline: the same rows as one multi-row INSERT into a table without any checks. */
async function rawInsert(pool: Pool, batch: readonly StreamBatch[]): Promise<void> {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const { streamId, events } of batch) {
    events.forEach((event, version) => {
      const n = params.length;
      values.push(
        `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}::jsonb, $${n + 7}::jsonb)`,
      );
      params.push(
        streamId,
        version,
        event.eventId,
        event.type,
        event.schemaVersion,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
      );
    });
  }
  await pool.query(
    `INSERT INTO raw_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
     VALUES ${values.join(', ')}`,
    params,
  );
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe.each(testDatabaseTargets())('ingest throughput on $name', (target) => {
  it('ingest stores at least half as fast as a raw multi-row INSERT of the same rows', async () => {
    const database = await target.create();
    const pool = createPool(database.url);
    const store = new PostgresEventStore({ pool });
    try {
      await runMigrations(pool, eventStoreMigrationSet);
      await pool.query(`CREATE TABLE raw_events (
        global_position bigserial PRIMARY KEY, stream_id text NOT NULL, stream_version bigint NOT NULL,
        event_id text NOT NULL, event_type text NOT NULL, schema_version int NOT NULL,
        data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())`);
      // Warm both paths up (plans, caches) before measuring.
      for (const batch of makeBatches().slice(0, 2)) {
        await store.ingest(batch);
        await rawInsert(pool, batch);
      }

      // Alternate the two so background load on the machine hits both alike; keep the best round.
      let ingestMs = Infinity;
      let rawMs = Infinity;
      for (let round = 0; round < 3; round++) {
        const batches = makeBatches();
        rawMs = Math.min(
          rawMs,
          await timed(async () => {
            for (const batch of batches) await rawInsert(pool, batch);
          }),
        );
        ingestMs = Math.min(
          ingestMs,
          await timed(async () => {
            for (const batch of batches) {
              expect(await store.ingest(batch)).toEqual({ stored: eventsPerBatch, duplicates: 0 });
            }
          }),
        );
      }

      const events = batchCount * eventsPerBatch;
      process.stderr.write(
        `[${target.name}] ingest ${Math.round(events / (ingestMs / 1000))} events/s, ` +
          `raw INSERT ${Math.round(events / (rawMs / 1000))} rows/s, ratio ${(rawMs / ingestMs).toFixed(2)}\n`,
      );
      expect(rawMs / ingestMs).toBeGreaterThanOrEqual(0.5);
    } finally {
      await store.close();
      await pool.end();
      await database.drop();
    }
  });
});
