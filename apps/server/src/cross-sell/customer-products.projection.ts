import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';
import type { Projection } from '../projector/projection';
import {
  type OrderPurchase,
  type PurchaseFact,
  purchaseFactOf,
  type PurchaseRefund,
} from './purchase-facts';

function factOf(event: RecordedEvent): PurchaseFact | null {
  const occurredAt = event.metadata['occurredAt'];
  if (typeof occurredAt !== 'string') return null;
  return purchaseFactOf({
    eventId: event.eventId,
    type: event.type,
    customerKey: event.streamId,
    occurredAt: new Date(occurredAt),
    data: event.data,
  });
}

const orderKey = (customerKey: string, orderId: string) => `${customerKey}\u0000${orderId}`;

/** The projection's tables in one schema: the live `read_models`, or a blue/green build's. */
interface ProductTables {
  readonly orders: string;
  readonly lines: string;
  readonly refunds: string;
  readonly products: string;
}

function productTablesIn(schema: string): ProductTables {
  return {
    orders: `${schema}.customer_product_orders`,
    lines: `${schema}.customer_product_lines`,
    refunds: `${schema}.customer_product_refunds`,
    products: `${schema}.customer_products`,
  };
}

/**
 * The products each customer key bought and kept (read_models.customer_products), for cross-sell.
 * Idempotent per event: an order is recorded by the first event of its order id, a refund once
 * per event id. The products of the touched customer keys are recomputed from their orders and
 * refunds, so refunds that arrive before their order count as well.
 */
export const customerProductsProjection: Projection = customerProductsProjectionIn('read_models');

/** The same projection over the same tables in `schema` (a blue/green rebuild's). */
function customerProductsProjectionIn(schema: string): Projection {
  const table = productTablesIn(schema);
  return {
    name: 'customer_products',
    version: 1,
    tables: [table.orders, table.lines, table.refunds, table.products],
    inSchema: customerProductsProjectionIn,
    // Every row is keyed by the event's stream (customer key): it can run as segments.
    segmentKey: (event: RecordedEvent) => event.streamId,

    async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
      const facts = events.map(factOf).filter((f) => f !== null);
      if (facts.length === 0) return;

      const orders = new Map<string, OrderPurchase>();
      for (const fact of facts) {
        if (fact.kind !== 'order') continue;
        const key = orderKey(fact.customerKey, fact.orderId);
        if (!orders.has(key)) orders.set(key, fact);
      }
      await insertOrders(client, table, [...orders.values()]);
      await insertRefunds(client, table, facts);
      await refreshCustomerProducts(client, table, [...new Set(facts.map((f) => f.customerKey))]);
    },
  };
}

async function insertOrders(
  client: PoolClient,
  table: ProductTables,
  orders: OrderPurchase[],
): Promise<void> {
  if (orders.length === 0) return;
  // An order id already recorded (a replay, or a second event for it) adds no line.
  const inserted = await client.query<{ event_id: string }>(
    `INSERT INTO ${table.orders} (customer_key, order_id, event_id, occurred_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     ON CONFLICT DO NOTHING
     RETURNING event_id`,
    [
      orders.map((o) => o.customerKey),
      orders.map((o) => o.orderId),
      orders.map((o) => o.eventId),
      orders.map((o) => o.occurredAt),
    ],
  );
  const recorded = new Set(inserted.rows.map((r) => r.event_id));
  const lines = orders
    .filter((o) => recorded.has(o.eventId))
    .flatMap((o) => o.products.map((p) => ({ order: o, ...p })));
  if (lines.length === 0) return;
  await client.query(
    `INSERT INTO ${table.lines} (customer_key, order_id, product_id, quantity)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
     ON CONFLICT DO NOTHING`,
    [
      lines.map((l) => l.order.customerKey),
      lines.map((l) => l.order.orderId),
      lines.map((l) => l.productId),
      lines.map((l) => l.quantity),
    ],
  );
}

/** product_id '' and quantity null: the whole order. */
interface RefundRow {
  fact: PurchaseRefund;
  productId: string;
  quantity: number | null;
}

async function insertRefunds(
  client: PoolClient,
  table: ProductTables,
  facts: PurchaseFact[],
): Promise<void> {
  const rows = facts.flatMap((f): RefundRow[] => {
    if (f.kind !== 'refund') return [];
    if (f.products === 'whole-order') return [{ fact: f, productId: '', quantity: null }];
    return f.products.map((p) => ({ fact: f, productId: p.productId, quantity: p.quantity }));
  });
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${table.refunds}
       (event_id, product_id, customer_key, order_id, occurred_at, quantity)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                          $6::bigint[])
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.fact.eventId),
      rows.map((r) => r.productId),
      rows.map((r) => r.fact.customerKey),
      rows.map((r) => r.fact.orderId),
      rows.map((r) => r.fact.occurredAt),
      rows.map((r) => r.quantity),
    ],
  );
}

/** A product is kept when its order is not refunded whole and not all its units were refunded. */
async function refreshCustomerProducts(
  client: PoolClient,
  table: ProductTables,
  keys: string[],
): Promise<void> {
  await client.query(`DELETE FROM ${table.products} WHERE customer_key = ANY($1)`, [keys]);
  await client.query(
    `INSERT INTO ${table.products}
       (customer_key, product_id, orders, first_bought_at, last_bought_at)
     SELECT l.customer_key, l.product_id, count(*)::integer, min(o.occurred_at), max(o.occurred_at)
       FROM ${table.lines} l
       JOIN ${table.orders} o USING (customer_key, order_id)
      WHERE l.customer_key = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM ${table.refunds} r
                         WHERE r.customer_key = l.customer_key AND r.order_id = l.order_id
                           AND r.product_id = '')
        AND l.quantity > (SELECT coalesce(sum(r.quantity), 0)
                            FROM ${table.refunds} r
                           WHERE r.customer_key = l.customer_key AND r.order_id = l.order_id
                             AND r.product_id = l.product_id)
      GROUP BY l.customer_key, l.product_id`,
    [keys],
  );
}
