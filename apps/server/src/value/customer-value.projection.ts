import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';
import type { Projection } from '../projector/projection';
import {
  type FlagFact,
  type OrderFact,
  type RefundFact,
  settleRefunds,
  valueFactOf,
} from './domain/value-facts';
import type { FxTable } from './domain/fx';
import { loadValueConfigOrThrow } from './value-config';

/** A recorded order or refund in the value domain's terms; other events give null. */
function factOf(event: RecordedEvent, fx: FxTable) {
  const occurredAt = event.metadata['occurredAt'];
  if (typeof occurredAt !== 'string') return null;
  return valueFactOf(
    {
      eventId: event.eventId,
      type: event.type,
      customerKey: event.streamId,
      occurredAt: new Date(occurredAt),
      data: event.data,
    },
    fx,
  );
}

/** A flag as stored: resolved already when what it waited for came in the same batch. */
type StoredFlag = FlagFact & { readonly resolvedAt?: Date };

const pairKey = (customerKey: string, orderId: string) => `${customerKey}\u0000${orderId}`;

/** The projection's tables in one schema: the live `read_models`, or a blue/green build's. */
interface ValueTables {
  readonly orders: string;
  readonly refunds: string;
  readonly flags: string;
  readonly value: string;
}

function valueTablesIn(schema: string): ValueTables {
  return {
    orders: `${schema}.customer_orders`,
    refunds: `${schema}.customer_refunds`,
    flags: `${schema}.value_flags`,
    value: `${schema}.customer_value`,
  };
}

/**
 * Historical value per customer key (read_models.customer_value) and the rows it is computed
 * from: orders, refunds and flags. Amounts are converted to the configured currency when the
 * event is projected; changing TOUCHLINE_CURRENCY or TOUCHLINE_FX_RATES needs a rebuild of this
 * projection. Idempotent by event id, and independent of the order refunds and orders arrive in.
 */
export function customerValueProjection(fx: FxTable): Projection {
  return customerValueProjectionIn(fx, 'read_models');
}

/** The same projection over the same tables in `schema` (a blue/green rebuild's). */
function customerValueProjectionIn(fx: FxTable, schema: string): Projection {
  const table = valueTablesIn(schema);
  return {
    name: 'customer_value',
    /**
     * 2: a refund that comes before its order is flagged however the two are batched, the
     * flag's resolved_at is when the order was stored, not when it was projected, and an order's
     * refunds are settled again, all in event-time order, whenever a batch touches it. A deployment
     * whose rows version 1 built rebuilds them blue/green by itself on start.
     */
    version: 2,
    tables: [table.orders, table.refunds, table.flags, table.value],
    inSchema: (other: string) => customerValueProjectionIn(fx, other),
    async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
      const facts = events.map((e) => factOf(e, fx)).filter((f) => f !== null);
      if (facts.length === 0) return;
      const flags: StoredFlag[] = facts.filter((f) => f.kind === 'flag');
      const refunds: RefundFact[] = facts.filter((f) => f.kind === 'refund');

      // First event of an order id wins; a later one (another event id) is a duplicate.
      const orders = new Map<string, OrderFact>();
      for (const fact of facts) {
        if (fact.kind !== 'order') continue;
        const key = pairKey(fact.customerKey, fact.orderId);
        const first = orders.get(key);
        if (first === undefined) orders.set(key, fact);
        else if (first.eventId !== fact.eventId) flags.push(duplicate(fact));
      }
      const candidates = [...orders.values()];
      const inserted = await insertOrders(client, table, candidates);
      const conflicting = candidates.filter((o) => !inserted.has(o.eventId));
      if (conflicting.length > 0) {
        const known = await client.query<{ event_id: string }>(
          `SELECT event_id FROM ${table.orders} WHERE event_id = ANY($1::text[])`,
          [conflicting.map((o) => o.eventId)],
        );
        const replayed = new Set(known.rows.map((r) => r.event_id));
        for (const order of conflicting)
          if (!replayed.has(order.eventId)) flags.push(duplicate(order));
      }
      await insertRefunds(client, table, refunds);

      // The orders this batch stored, by pair, with the time each was stored: a refund stored
      // before its order was without one until then, in this batch or an earlier one.
      const arrived = new Map<string, { position: number; recordedAt: Date }>();
      const positionOf = firstPositions(events);
      const recordedAtOf = new Map(events.map((e) => [e.eventId, e.recordedAt]));
      for (const o of candidates) {
        const recordedAt = recordedAtOf.get(o.eventId);
        if (!inserted.has(o.eventId) || recordedAt === undefined) continue;
        arrived.set(pairKey(o.customerKey, o.orderId), {
          position: positionOf.get(o.eventId) ?? 0,
          recordedAt,
        });
      }
      // Flagged as a batch of that refund alone would have: the flag, resolved by the order.
      for (const r of refunds) {
        const order = arrived.get(pairKey(r.customerKey, r.orderId));
        if (order !== undefined && (positionOf.get(r.eventId) ?? 0) < order.position) {
          flags.push({ ...withoutOrder(r), resolvedAt: order.recordedAt });
        }
      }

      // Settle the refunds of every order this batch touched, in event-time order.
      const pairs = new Map<string, { customerKey: string; orderId: string }>();
      for (const f of [...candidates.filter((o) => inserted.has(o.eventId)), ...refunds])
        pairs.set(pairKey(f.customerKey, f.orderId), f);
      if (pairs.size > 0) await settle(client, table, [...pairs.values()], flags, arrived);

      await insertFlags(client, table, flags);
      const keys = new Set(facts.map((f) => f.customerKey));
      await refreshCustomerValue(client, table, [...keys], fx.base);
    },
  };
}

/** For the projector's list: the projection with the configuration from the environment. */
export function customerValueProjectionFromEnv(env: NodeJS.ProcessEnv): Projection {
  return customerValueProjection(loadValueConfigOrThrow(env).fx);
}

/** Each event id's first index in the batch: the log order within it. */
function firstPositions(events: readonly RecordedEvent[]): Map<string, number> {
  const positions = new Map<string, number>();
  events.forEach((event, index) => {
    if (!positions.has(event.eventId)) positions.set(event.eventId, index);
  });
  return positions;
}

/** The flag of a refund stored while no order with its id was known for the customer. */
function withoutOrder(
  refund: Pick<
    RefundFact,
    'eventId' | 'customerKey' | 'orderId' | 'occurredAt' | 'currency' | 'originalAmount'
  >,
): FlagFact {
  return {
    kind: 'flag',
    eventId: refund.eventId,
    eventType: 'OrderRefunded',
    customerKey: refund.customerKey,
    orderId: refund.orderId,
    occurredAt: refund.occurredAt,
    currency: refund.currency,
    originalAmount: refund.originalAmount,
    reasonCode: 'refund-without-order',
    reason: `no order ${refund.orderId} is known for this customer; the refund is not counted until it arrives`,
  };
}

function duplicate(order: OrderFact): FlagFact {
  return {
    kind: 'flag',
    eventId: order.eventId,
    eventType: 'OrderCompleted',
    customerKey: order.customerKey,
    orderId: order.orderId,
    occurredAt: order.occurredAt,
    currency: order.currency,
    originalAmount: order.originalAmount,
    reasonCode: 'duplicate-order',
    reason: `order ${order.orderId} was already recorded for this customer by another event`,
  };
}

async function insertOrders(
  client: PoolClient,
  table: ValueTables,
  orders: OrderFact[],
): Promise<Set<string>> {
  if (orders.length === 0) return new Set();
  const result = await client.query<{ event_id: string }>(
    `INSERT INTO ${table.orders}
       (customer_key, order_id, event_id, occurred_at, currency, original_amount, base_amount)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                          $6::numeric[], $7::numeric[])
     ON CONFLICT DO NOTHING
     RETURNING event_id`,
    [
      orders.map((o) => o.customerKey),
      orders.map((o) => o.orderId),
      orders.map((o) => o.eventId),
      orders.map((o) => o.occurredAt),
      orders.map((o) => o.currency),
      orders.map((o) => o.originalAmount),
      orders.map((o) => o.baseAmount),
    ],
  );
  return new Set(result.rows.map((r) => r.event_id));
}

async function insertRefunds(
  client: PoolClient,
  table: ValueTables,
  refunds: RefundFact[],
): Promise<void> {
  if (refunds.length === 0) return;
  await client.query(
    `INSERT INTO ${table.refunds}
       (event_id, customer_key, order_id, occurred_at, currency, original_amount, base_amount, status)
     SELECT e, c, o, t, cur, oa, ba, 'pending'
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                   $6::numeric[], $7::numeric[]) AS u(e, c, o, t, cur, oa, ba)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      refunds.map((r) => r.eventId),
      refunds.map((r) => r.customerKey),
      refunds.map((r) => r.orderId),
      refunds.map((r) => r.occurredAt),
      refunds.map((r) => r.currency),
      refunds.map((r) => r.originalAmount),
      refunds.map((r) => r.baseAmount),
    ],
  );
}

interface OrderRow {
  customer_key: string;
  order_id: string;
  base_amount: string;
}
interface RefundRow {
  event_id: string;
  customer_key: string;
  order_id: string;
  occurred_at: Date;
  currency: string;
  original_amount: string | null;
  base_amount: string | null;
}

/**
 * Settles the refunds of each pair again, all of them, in event-time order: the order's refunded
 * amount, each refund's applied amount and which refunds exceed what was left come out the same
 * however the refunds arrived and however the log was cut into batches. A pair without its order
 * keeps its refunds pending, each flagged refund-without-order.
 */
async function settle(
  client: PoolClient,
  table: ValueTables,
  pairs: { customerKey: string; orderId: string }[],
  flags: StoredFlag[],
  arrived: ReadonlyMap<string, { recordedAt: Date }>,
): Promise<void> {
  const params = [pairs.map((p) => p.customerKey), pairs.map((p) => p.orderId)];
  const refunds = await client.query<RefundRow>(
    `SELECT r.event_id, r.customer_key, r.order_id, r.occurred_at, r.currency,
            r.original_amount::text, r.base_amount::text
       FROM ${table.refunds} r
       JOIN unnest($1::text[], $2::text[]) AS p(c, o) ON r.customer_key = p.c AND r.order_id = p.o
      ORDER BY r.occurred_at, r.event_id`,
    params,
  );
  if (refunds.rows.length === 0) return;
  const ordersResult = await client.query<OrderRow>(
    `SELECT o.customer_key, o.order_id, o.base_amount::text
       FROM ${table.orders} o
       JOIN unnest($1::text[], $2::text[]) AS p(c, o) ON o.customer_key = p.c AND o.order_id = p.o`,
    params,
  );
  const ordersByPair = new Map(
    ordersResult.rows.map((o) => [pairKey(o.customer_key, o.order_id), o]),
  );
  const refundsByPair = new Map<string, RefundRow[]>();
  for (const row of refunds.rows) {
    const key = pairKey(row.customer_key, row.order_id);
    refundsByPair.set(key, [...(refundsByPair.get(key) ?? []), row]);
  }
  const applied: { eventId: string; amount: string; resolvedAt: Date | null }[] = [];
  const orderUpdates: { customerKey: string; orderId: string; refunded: string }[] = [];
  for (const [key, rows] of refundsByPair) {
    const order = ordersByPair.get(key);
    if (order === undefined) {
      for (const row of rows) {
        flags.push(
          withoutOrder({
            eventId: row.event_id,
            customerKey: row.customer_key,
            orderId: row.order_id,
            occurredAt: row.occurred_at,
            currency: row.currency,
            originalAmount: row.original_amount,
          }),
        );
      }
      continue;
    }
    const result = settleRefunds(
      { baseAmount: order.base_amount, refundedAmount: '0' },
      rows.map((r) => ({ eventId: r.event_id, baseAmount: r.base_amount })),
    );
    orderUpdates.push({
      customerKey: order.customer_key,
      orderId: order.order_id,
      refunded: result.refundedAmount,
    });
    // A refund still pending waited for its order, which only this batch can have stored
    // (with an order known, the batch that stored the refund settled it).
    const resolvedAt = arrived.get(key)?.recordedAt ?? null;
    for (const s of result.settled) {
      applied.push({ eventId: s.eventId, amount: s.appliedAmount, resolvedAt });
      const row = rows.find((r) => r.event_id === s.eventId)!;
      if (s.excess !== null) {
        flags.push({
          kind: 'flag',
          eventId: row.event_id,
          eventType: 'OrderRefunded',
          customerKey: row.customer_key,
          orderId: row.order_id,
          occurredAt: row.occurred_at,
          currency: row.currency,
          originalAmount: row.original_amount,
          reasonCode: 'refund-exceeds-order',
          reason: `the refund is ${s.excess} more than what was left of order ${row.order_id}; the excess is not counted`,
        });
      }
    }
  }
  if (applied.length === 0) return;
  await client.query(
    `UPDATE ${table.refunds} r SET status = 'applied', applied_amount = u.a
       FROM unnest($1::text[], $2::numeric[]) AS u(e, a) WHERE r.event_id = u.e`,
    [applied.map((a) => a.eventId), applied.map((a) => a.amount)],
  );
  await client.query(
    `UPDATE ${table.orders} o SET refunded_amount = u.r
       FROM unnest($1::text[], $2::text[], $3::numeric[]) AS u(c, o, r)
      WHERE o.customer_key = u.c AND o.order_id = u.o`,
    [
      orderUpdates.map((u) => u.customerKey),
      orderUpdates.map((u) => u.orderId),
      orderUpdates.map((u) => u.refunded),
    ],
  );
  // Which refunds exceed the order is decided again above: the flags come from that alone.
  await client.query(
    `DELETE FROM ${table.flags}
      WHERE reason_code = 'refund-exceeds-order' AND event_id = ANY($1::text[])`,
    [applied.map((a) => a.eventId)],
  );
  // A refund that waited for its order is counted now; its flag stays, marked resolved when
  // the order was stored (a time in the log, so a rebuild writes the same one).
  const resolved = applied.filter((a) => a.resolvedAt !== null);
  await client.query(
    `UPDATE ${table.flags} f SET resolved_at = u.t
       FROM unnest($1::text[], $2::timestamptz[]) AS u(e, t)
      WHERE f.reason_code = 'refund-without-order' AND f.resolved_at IS NULL AND f.event_id = u.e`,
    [resolved.map((a) => a.eventId), resolved.map((a) => a.resolvedAt)],
  );
}

async function insertFlags(
  client: PoolClient,
  table: ValueTables,
  flags: StoredFlag[],
): Promise<void> {
  if (flags.length === 0) return;
  await client.query(
    `INSERT INTO ${table.flags}
       (event_id, reason_code, event_type, customer_key, order_id, occurred_at, currency,
        original_amount, reason, resolved_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::timestamptz[], $7::text[], $8::numeric[], $9::text[],
                          $10::timestamptz[])
     ON CONFLICT (event_id, reason_code) DO NOTHING`,
    [
      flags.map((f) => f.eventId),
      flags.map((f) => f.reasonCode),
      flags.map((f) => f.eventType),
      flags.map((f) => f.customerKey),
      flags.map((f) => f.orderId),
      flags.map((f) => f.occurredAt),
      flags.map((f) => f.currency),
      flags.map((f) => f.originalAmount),
      flags.map((f) => f.reason),
      flags.map((f) => f.resolvedAt ?? null),
    ],
  );
}

/** Recomputes the summary rows of the touched customers from their orders (exact numeric sums). */
async function refreshCustomerValue(
  client: PoolClient,
  table: ValueTables,
  keys: string[],
  currency: string,
): Promise<void> {
  await client.query(
    `INSERT INTO ${table.value} AS v
       (customer_key, currency, order_count, gross_revenue, refunded, net_revenue,
        average_order_value, first_order_at, last_order_at, open_flags)
     SELECT k.customer_key, $2, coalesce(o.n, 0), coalesce(o.gross, 0), coalesce(o.refunded, 0),
            coalesce(o.gross, 0) - coalesce(o.refunded, 0),
            CASE WHEN o.n > 0 THEN round((o.gross - o.refunded) / o.n, 6) END,
            o.first_at, o.last_at, coalesce(f.n, 0)
       FROM unnest($1::text[]) AS k(customer_key)
       LEFT JOIN (SELECT customer_key, count(*)::int AS n, sum(base_amount) AS gross,
                         sum(refunded_amount) AS refunded, min(occurred_at) AS first_at,
                         max(occurred_at) AS last_at
                    FROM ${table.orders} WHERE customer_key = ANY($1::text[])
                   GROUP BY customer_key) o USING (customer_key)
       LEFT JOIN (SELECT customer_key, count(*)::int AS n FROM ${table.flags}
                   WHERE customer_key = ANY($1::text[]) AND resolved_at IS NULL
                   GROUP BY customer_key) f USING (customer_key)
     ON CONFLICT (customer_key) DO UPDATE SET
       currency = excluded.currency, order_count = excluded.order_count,
       gross_revenue = excluded.gross_revenue, refunded = excluded.refunded,
       net_revenue = excluded.net_revenue, average_order_value = excluded.average_order_value,
       first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at,
       open_flags = excluded.open_flags`,
    [keys, currency],
  );
}
