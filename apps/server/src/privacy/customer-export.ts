import type { EventStore } from '@touchline/event-store';
import type { Pool } from 'pg';

/**
 * Every table that holds rows about a customer key, by schema-qualified name. A new read model
 * that stores per-customer rows must be added here, or the export is incomplete (docs/privacy.md).
 */
export const CUSTOMER_TABLES = [
  'read_models.customer_activity',
  'read_models.web_touchpoints',
  'read_models.customer_value',
  'read_models.customer_orders',
  'read_models.customer_refunds',
  'read_models.value_flags',
  'read_models.customer_rfm',
  'models.clv_scores',
] as const;

export interface CustomerExport {
  readonly customerKey: string;
  readonly exportedAt: string;
  /** The full history stored under this key, in stream order. */
  readonly events: ReadonlyArray<{
    eventId: string;
    type: string;
    schemaVersion: number;
    streamVersion: number;
    recordedAt: string;
    data: unknown;
    metadata: unknown;
  }>;
  /** Rows of every read model about this key, by table. */
  readonly readModels: Readonly<Record<string, readonly unknown[]>>;
}

/** Right of access: everything held about one customer key, as one JSON document. */
export async function exportCustomer(
  store: EventStore,
  pool: Pool,
  customerKey: string,
  now: Date,
): Promise<CustomerExport | null> {
  const events = await store.readStream(customerKey);
  const readModels: Record<string, unknown[]> = {};
  for (const table of CUSTOMER_TABLES) {
    // Table names come from the constant list above, never from the request.
    const result = await pool.query(`SELECT * FROM ${table} WHERE customer_key = $1`, [
      customerKey,
    ]);
    readModels[table] = result.rows;
  }
  if (events.length === 0 && Object.values(readModels).every((rows) => rows.length === 0))
    return null;
  return {
    customerKey,
    exportedAt: now.toISOString(),
    events: events.map((event) => ({
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      streamVersion: event.streamVersion,
      recordedAt: event.recordedAt.toISOString(),
      data: event.data,
      metadata: event.metadata,
    })),
    readModels,
  };
}
