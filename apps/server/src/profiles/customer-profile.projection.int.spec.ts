import type { RecordedEvent } from '@touchline/event-store';
import {
  compileRulesOrThrow,
  DEFAULT_IDENTITY_RULES,
  parseIdentifierOrThrow,
} from '@touchline/identity';
import { type TestDatabase, testDatabaseTargets } from '@touchline/platform/testing';
import fc from 'fast-check';
import type { Pool } from 'pg';
import { catchingUp } from '../projector/projection';
import { applyBatchWithCheckpoint, beginBatchWithCheckpoint } from '../projector/projector';
import { migratedPool } from '../testing/migrated-pool';
import { parseFxTable } from '../value/domain/fx';
import { CustomerProfileProjection } from './customer-profile.projection';

const rules = compileRulesOrThrow(DEFAULT_IDENTITY_RULES);
const fx = parseFxTable('USD', 'EUR=1.10');
const newProjection = (pipelineChunk?: number) =>
  new CustomerProfileProjection(rules, fx, {}, 'read_models', pipelineChunk);

let position = 0n;
function recorded(
  type: string,
  channel: string,
  occurredAt: string,
  data: Record<string, unknown>,
  eventId = `ev-${String(++position)}`,
): RecordedEvent {
  return {
    eventId,
    type,
    data,
    schemaVersion: 1,
    streamId: 'ignored-by-this-projection',
    streamVersion: 0,
    globalPosition: position,
    transactionId: 1n,
    metadata: { channel, occurredAt },
    recordedAt: new Date(occurredAt),
  };
}

const page = (anonymousId: string, at: string, name: string, userId: string | null = null) =>
  recorded('WebPageViewed', 'web', at, { userId, anonymousId, name, properties: {}, context: {} });
const identify = (userId: string, anonymousId: string | null, at: string, traits: object) =>
  recorded('UserIdentified', 'web', at, { userId, anonymousId, traits, context: {} });
const emailOpened = (recipient: string, at: string, campaignId: string) =>
  recorded('EmailOpened', 'email', at, { recipient, campaignId, provider: 'sendgrid' });
const callEnded = (customerPhone: string, at: string, topic: string) =>
  recorded('CallEnded', 'phone', at, { customerPhone, topic, disposition: 'resolved' });
const order = (userId: string, at: string, orderId: string, revenue: string, currency: string) =>
  recorded('OrderCompleted', 'web', at, {
    userId,
    anonymousId: null,
    orderId,
    revenue,
    currency,
    products: [],
    properties: {},
    context: {},
  });

interface ProfileRow {
  customer_id: string;
  identifiers: string[];
  traits: Record<string, unknown>;
  web_events: number;
  email_events: number;
  phone_events: number;
  total_events: number;
  first_seen_at: Date;
  last_contact_type: string;
  last_contact_channel: string;
  last_contact_summary: string;
}

const TABLES = {
  customer_profiles: 'customer_id',
  customer_identifiers: 'identifier',
  identifier_facts: 'identifier',
  identity_links: 'link_id, event_id, status',
  customer_touchpoints: 'event_id',
  identity_observations: 'event_id',
};

/** Every read-model row as text, in key order: two dumps are equal iff the tables are. */
async function dump(pool: Pool): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const [table, key] of Object.entries(TABLES)) {
    const rows = await pool.query<{ row: string }>(
      `SELECT t::text AS row FROM read_models.${table} t ORDER BY ${key}`,
    );
    result[table] = rows.rows.map((r) => r.row);
  }
  return result;
}

/** Empties the projection as a rebuild does; `keepRevocations` keeps admin unmerges as a rebuild does. */
async function reset(
  pool: Pool,
  projection: CustomerProfileProjection,
  keepRevocations = false,
): Promise<void> {
  await pool.query(`TRUNCATE ${projection.tables.join(', ')}`);
  if (!keepRevocations) await pool.query('TRUNCATE identity.revocations');
  await pool.query('DELETE FROM projections.checkpoints WHERE projection = $1', [projection.name]);
}

const checkpointOf = (event: RecordedEvent) => ({
  transactionId: event.transactionId,
  position: event.globalPosition,
});

/**
 * `live`: batch after batch as the projector applies them. `catching-up`: as a rebuild applies
 * them (catchingUp): profiles deferred to the next plain apply. `overlapped`: the same, each
 * batch begun while the one before commits, as the rebuilder replays (projection-rebuilder.ts).
 */
async function project(
  pool: Pool,
  projection: CustomerProfileProjection,
  events: readonly RecordedEvent[],
  batchSize: number,
  mode: 'live' | 'catching-up' | 'overlapped' = 'live',
): Promise<void> {
  const applying = mode === 'live' ? projection : catchingUp(projection);
  let committing: Promise<void> | null = null;
  for (let i = 0; i < events.length; i += batchSize) {
    const batch = events.slice(i, i + batchSize);
    const last = batch[batch.length - 1];
    if (last === undefined) continue;
    if (mode !== 'overlapped') {
      await applyBatchWithCheckpoint(pool, applying, batch, checkpointOf(last));
      continue;
    }
    const previous = committing;
    const { locked, committed } = await beginBatchWithCheckpoint(
      pool,
      applying,
      batch,
      checkpointOf(last),
      previous ?? undefined,
    );
    committing = committed;
    await previous;
    await locked;
  }
  await committing;
}

/** A small world: visitors who browse, some identify, get emails, call and buy. */
function world(): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (let c = 0; c < 12; c += 1) {
    const day = String(10 + c).padStart(2, '0');
    const anon = `anon-${String(c)}`;
    const user = `user-${String(c % 10)}`; // users 0 and 1 come back on a second device
    const email = `customer${String(c % 10)}@example.com`;
    events.push(page(anon, `2026-03-${day}T09:00:00.000Z`, 'Home'));
    events.push(page(anon, `2026-03-${day}T09:05:00.000Z`, 'Pricing'));
    if (c % 3 !== 2) {
      events.push(
        identify(user, anon, `2026-03-${day}T09:10:00.000Z`, {
          email,
          plan: c % 2 === 0 ? 'free' : 'pro',
          phone: `+4420794600${String(c % 10).padStart(2, '0')}`,
        }),
      );
      events.push(emailOpened(email.toUpperCase(), `2026-03-${day}T12:00:00.000Z`, `camp-${day}`));
      events.push(order(user, `2026-03-${day}T10:00:00.000Z`, `o-${String(c)}`, '20.00', 'EUR'));
    }
    events.push(
      callEnded(
        `+4420794600${String(c % 10).padStart(2, '0')}`,
        `2026-03-${day}T15:00:00.000Z`,
        'billing',
      ),
    );
  }
  // A shared till email that would give user-3 a second user id: the limit refuses it.
  events.push(
    identify('user-4', null, '2026-03-30T08:00:00.000Z', { email: 'customer3@example.com' }),
  );
  return events;
}

describe.each(testDatabaseTargets())('customer profile projection ($name)', (target) => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await target.create();
    pool = await migratedPool(database);
  }, 60_000);

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('joins anonymous browsing, identify, email and phone into one profile', async () => {
    const projection = newProjection();
    await reset(pool, projection);
    await project(
      pool,
      projection,
      [
        page('a-1', '2026-01-01T10:00:00.000Z', 'Home'),
        page('a-1', '2026-01-01T10:01:00.000Z', 'Shoes'),
        identify('u-1', 'a-1', '2026-01-01T10:02:00.000Z', {
          email: ' Ada@Example.COM ',
          phone: '+44 20 7946 0958',
          name: 'Ada',
        }),
        emailOpened('ada@example.com', '2026-01-02T08:00:00.000Z', 'spring'),
        callEnded('+442079460958', '2026-01-03T16:00:00.000Z', 'delivery'),
        identify('u-1', null, '2026-01-01T09:00:00.000Z', { name: 'Ada (older)', plan: 'pro' }),
      ],
      2,
    );
    const profiles = await pool.query<ProfileRow>(
      'SELECT * FROM read_models.customer_profiles ORDER BY customer_id',
    );
    expect(profiles.rows).toHaveLength(1);
    const profile = profiles.rows[0];
    if (profile === undefined) throw new Error('no profile');
    expect(profile.identifiers).toEqual([
      'anonymousId:a-1',
      'email:ada@example.com',
      'phone:+442079460958',
      'userId:u-1',
    ]);
    // Last writer by event time: the late-arriving older identify does not overwrite the name.
    expect(profile.traits).toMatchObject({ name: 'Ada', plan: 'pro' });
    expect(profile.web_events).toBe(4);
    expect(profile.email_events).toBe(1);
    expect(profile.phone_events).toBe(1);
    expect(profile.total_events).toBe(6);
    expect(profile.first_seen_at.toISOString()).toBe('2026-01-01T09:00:00.000Z');
    expect(profile.last_contact_type).toBe('CallEnded');
    expect(profile.last_contact_channel).toBe('phone');
    expect(profile.last_contact_summary).toBe('delivery · resolved');
    const timeline = await pool.query(
      `SELECT t.type FROM read_models.customer_touchpoints t
         JOIN read_models.customer_identifiers ci USING (identifier)
        WHERE ci.customer_id = $1 ORDER BY occurred_at, event_id`,
      [profile.customer_id],
    );
    expect(timeline.rows.map((r: { type: string }) => r.type)).toEqual([
      'UserIdentified',
      'WebPageViewed',
      'WebPageViewed',
      'UserIdentified',
      'EmailOpened',
      'CallEnded',
    ]);
  });

  it('records a refused merge and keeps the customers apart', async () => {
    const projection = newProjection();
    await reset(pool, projection);
    await project(pool, projection, world(), 7);
    const refused = await pool.query(
      `SELECT identifier_a, identifier_b, reason_code FROM read_models.identity_links WHERE status = 'refused'`,
    );
    expect(refused.rows).toContainEqual({
      identifier_a: 'userId:user-4',
      identifier_b: 'email:customer3@example.com',
      reason_code: 'LIMIT_EXCEEDED',
    });
    const owners = await pool.query<{ n: number }>(
      `SELECT count(DISTINCT customer_id)::int AS n FROM read_models.customer_identifiers
        WHERE identifier IN ('userId:user-3', 'userId:user-4')`,
    );
    expect(owners.rows[0]?.n).toBe(2);
    const revenue = await pool.query(
      `SELECT net_revenue::text AS revenue, orders FROM read_models.customer_profiles p
        WHERE 'userId:user-0' = ANY(p.identifiers)`,
    );
    // Two orders of 20.00 EUR (two devices of user-0) at 1.10.
    expect(revenue.rows[0]).toEqual({ revenue: '44.00', orders: 2 });
  });

  it('gives the same tables for any arrival order, batching, duplicates and restart', async () => {
    const events = world();
    const baseline = newProjection();
    await reset(pool, baseline);
    await project(pool, baseline, events, events.length);
    const expected = await dump(pool);
    expect(expected['customer_profiles']?.length).toBeGreaterThan(5);

    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
        fc.integer({ min: 1, max: 25 }),
        fc.boolean(),
        fc.subarray(events, { maxLength: 8 }),
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom('live' as const, 'catching-up' as const, 'overlapped' as const),
        async (ordered, batchSize, restartHalfway, repeated, pipelineChunk, firstHalf) => {
          // Redelivered events, in the same batch as their first copy or much later.
          const shuffled = [...ordered];
          for (const [i, event] of repeated.entries()) {
            shuffled.splice((i * 7919) % (shuffled.length + 1), 0, event);
          }
          let projection = newProjection(pipelineChunk);
          await reset(pool, projection);
          const half = Math.floor(shuffled.length / 2);
          // The first half as the live projector or a rebuild applies it (profiles deferred).
          await project(pool, projection, shuffled.slice(0, half), batchSize, firstHalf);
          if (firstHalf !== 'live') {
            const pending = await pool.query('SELECT 1 FROM read_models.profile_recompute_pending');
            expect(pending.rowCount).toBeGreaterThan(0);
          }
          // A new process: its graph is loaded from the tables, not carried over in memory.
          if (restartHalfway) projection = newProjection(pipelineChunk);
          await project(pool, projection, shuffled.slice(half), batchSize);
          expect(
            (await pool.query('SELECT 1 FROM read_models.profile_recompute_pending')).rowCount,
          ).toBe(0);
          expect(await dump(pool)).toEqual(expected);
        },
      ),
      { numRuns: target.kind === 'pglite' ? 4 : 12 },
    );
  }, 120_000);

  it('undoes a merge on an admin request: both profiles as before, kept through a rebuild', async () => {
    const projection = newProjection();
    await reset(pool, projection);
    const before = [
      identify('u-sep', null, '2026-02-01T09:00:00.000Z', {
        email: 'sep@example.com',
        plan: 'pro',
      }),
      page('anon-a', '2026-02-01T09:30:00.000Z', 'Pricing', 'u-sep'),
      page('anon-shared', '2026-02-02T10:00:00.000Z', 'Home'),
      page('anon-shared', '2026-02-02T10:05:00.000Z', 'Docs'),
    ];
    await project(pool, projection, before, 10);
    const profileOf = async (identifier: string) =>
      (
        await pool.query<{ row: string; customer_id: string; identifiers: string[] }>(
          `SELECT p::text AS row, customer_id, identifiers FROM read_models.customer_profiles p
            WHERE $1 = ANY(identifiers)`,
          [identifier],
        )
      ).rows;
    const [userBefore] = await profileOf('userId:u-sep');
    const [visitorBefore] = await profileOf('anonymousId:anon-shared');
    expect(userBefore?.customer_id).not.toBe(visitorBefore?.customer_id);

    // A shared computer: the user signs in on the visitor's browser. The merge follows.
    const linking = identify('u-sep', 'anon-shared', '2026-02-03T08:00:00.000Z', {});
    await project(pool, projection, [linking], 10);
    expect(await profileOf('anonymousId:anon-shared')).toEqual([
      expect.objectContaining({ customer_id: userBefore?.customer_id }),
    ]);

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const outcome = await projection.revoke(
        client,
        {
          between: [
            parseIdentifierOrThrow('userId:u-sep'),
            parseIdentifierOrThrow('anonymousId:anon-shared'),
          ],
        },
        { reason: 'shared computer', requestedBy: 'test' },
      );
      await client.query('COMMIT');
      expect(outcome.applied).toBe(true);
      expect(outcome.moved.map((m) => m.identifier)).toEqual(['anonymousId:anon-shared']);
    } catch (error: unknown) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }

    // The visitor's profile is exactly what it was; the user keeps its identifiers and id, plus
    // the sign-in event, which was the user's own touchpoint.
    expect((await profileOf('anonymousId:anon-shared'))[0]?.row).toBe(visitorBefore?.row);
    const [userAfter] = await profileOf('userId:u-sep');
    expect(userAfter?.customer_id).toBe(userBefore?.customer_id);
    expect(userAfter?.identifiers).toEqual(userBefore?.identifiers);

    // Later evidence for the same pair is refused, and says why.
    const relinking = identify('u-sep', 'anon-shared', '2026-02-04T08:00:00.000Z', {});
    await project(pool, projection, [relinking], 10);
    const refused = await pool.query(
      `SELECT reason_code FROM read_models.identity_links
        WHERE status = 'refused' AND identifier_b = 'anonymousId:anon-shared'`,
    );
    expect(refused.rows).toContainEqual({ reason_code: 'UNMERGED_BY_ADMIN' });
    const live = await dump(pool);

    // Asking again changes nothing.
    const again = await pool.connect();
    try {
      const repeat = await projection.revoke(
        again,
        {
          between: [
            parseIdentifierOrThrow('userId:u-sep'),
            parseIdentifierOrThrow('anonymousId:anon-shared'),
          ],
        },
        { reason: null, requestedBy: 'test' },
      );
      expect(repeat.applied).toBe(false);
    } finally {
      again.release();
    }
    expect(await dump(pool)).toEqual(live);

    // A rebuild from zero keeps the admin's separation and gives the same rows.
    const rebuilt = newProjection();
    await reset(pool, rebuilt, true);
    await project(pool, rebuilt, [...before, linking, relinking], 1000);
    expect(await dump(pool)).toEqual(live);
  });

  it('keeps identifiers with quotes, backslashes and commas exactly', async () => {
    const projection = newProjection();
    await reset(pool, projection);
    const odd = 'o\'brien "the", \\ {user}';
    await project(
      pool,
      projection,
      [identify(odd, 'anon-odd', '2026-04-01T10:00:00.000Z', { plan: 'pro' })],
      10,
    );
    const observation = await pool.query<{ identifiers: string[] }>(
      'SELECT identifiers FROM read_models.identity_observations',
    );
    expect([...(observation.rows[0]?.identifiers ?? [])].sort()).toEqual([
      'anonymousId:anon-odd',
      `userId:${odd}`,
    ]);
    const profiles = await pool.query<{ identifiers: string[] }>(
      'SELECT identifiers FROM read_models.customer_profiles',
    );
    expect(profiles.rows.map((r) => r.identifiers)).toEqual([
      ['anonymousId:anon-odd', `userId:${odd}`],
    ]);
  });

  it('shows current consent per purpose, last writer by event time', async () => {
    const projection = newProjection();
    await reset(pool, projection);
    const consent = (preferences: Record<string, boolean>) => ({
      consent: { categoryPreferences: preferences },
    });
    await project(
      pool,
      projection,
      [
        recorded('UserIdentified', 'web', '2026-04-01T10:00:00.000Z', {
          userId: 'u-consent',
          anonymousId: null,
          traits: { email: 'consent@example.com' },
          context: consent({ Analytics: true, Advertising: true }),
        }),
        recorded('EmailUnsubscribed', 'email', '2026-04-03T10:00:00.000Z', {
          recipient: 'consent@example.com',
          provider: 'sendgrid',
        }),
        // Arrives last but happened first: it must not win.
        recorded('UserIdentified', 'web', '2026-03-01T10:00:00.000Z', {
          userId: 'u-consent',
          anonymousId: null,
          traits: {},
          context: consent({ Analytics: false }),
        }),
      ],
      1,
    );
    const row = await pool.query<{ consent: Record<string, { value: boolean; source: string }> }>(
      `SELECT consent FROM read_models.customer_profiles WHERE 'userId:u-consent' = ANY(identifiers)`,
    );
    expect(row.rows[0]?.consent).toEqual({
      Analytics: { value: true, at: '2026-04-01T10:00:00.000Z', source: 'UserIdentified' },
      Advertising: { value: true, at: '2026-04-01T10:00:00.000Z', source: 'UserIdentified' },
      email_marketing: {
        value: false,
        at: '2026-04-03T10:00:00.000Z',
        source: 'EmailUnsubscribed',
      },
    });
  });

  it('rolls a queued batch back when the batch before it failed, then carries on from the tables', async () => {
    const events = world();
    const baseline = newProjection();
    await reset(pool, baseline);
    await project(pool, baseline, events, events.length);
    const expected = await dump(pool);

    // The instance served live first: a rebuild empties the tables under its graph.
    const projection = newProjection(3);
    await reset(pool, projection);
    await project(pool, projection, events, 5);
    await reset(pool, projection);
    const replaying = catchingUp(projection);
    const first = events.slice(0, 10);
    const second = events.slice(10, 20);
    // A checkpoint the table refuses (bigint out of range) fails the first batch at its commit,
    // after its writes ran; the second was computed on the graph the first left.
    const failing = await beginBatchWithCheckpoint(pool, replaying, first, {
      transactionId: 1n,
      position: 2n ** 63n,
    });
    const queued = await beginBatchWithCheckpoint(
      pool,
      replaying,
      second,
      checkpointOf(second[second.length - 1] as RecordedEvent),
      failing.committed,
    );
    await expect(failing.committed).rejects.toThrow(/out of range/);
    // The second fails with the first's error: its writes waited for the first's commit.
    await expect(queued.committed).rejects.toThrow(/out of range/);
    for (const table of ['identity_observations', 'customer_touchpoints', 'identifier_facts']) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM read_models.${table}`,
      );
      expect(rows[0]?.n).toBe(0);
    }
    // A batch whose predecessor failed never commits, whatever its own writes did.
    const predecessor = Promise.reject(new Error('the batch before failed'));
    predecessor.catch(() => undefined);
    const orphan = await beginBatchWithCheckpoint(
      pool,
      catchingUp(newProjection()),
      first,
      checkpointOf(first[first.length - 1] as RecordedEvent),
      predecessor,
    );
    await expect(orphan.committed).rejects.toThrow('the batch before failed');
    const observed = await pool.query('SELECT 1 FROM read_models.identity_observations');
    expect(observed.rowCount).toBe(0);
    // The same instance replays everything: its graph comes back from the tables.
    await project(pool, projection, events, 7, 'overlapped');
    await applyBatchWithCheckpoint(
      pool,
      projection,
      [],
      checkpointOf(events[events.length - 1] as RecordedEvent),
    );
    expect(await dump(pool)).toEqual(expected);
  }, 60_000);

  it('reloads its graph when another writer moved the tables on', async () => {
    const events = world();
    const live = newProjection();
    await reset(pool, live);
    await project(pool, live, events.slice(0, 20), 5);
    // Another process applies the next events; the live one must not reuse its stale graph.
    await project(pool, newProjection(), events.slice(20, 40), 5);
    await project(pool, live, events.slice(40), 5);
    const continued = await dump(pool);
    const fresh = newProjection();
    await reset(pool, fresh);
    await project(pool, fresh, events, 1000);
    expect(continued).toEqual(await dump(pool));
  }, 60_000);
});
