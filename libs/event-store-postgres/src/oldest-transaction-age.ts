import type { ClientBase, Pool } from 'pg';
import { oldestTransactionAgeSql } from './sql/oldest-transaction-age.sql';

/**
 * Seconds since the oldest other transaction holding a transaction id began (0 when none).
 * readAll and subscriptions cannot pass such a transaction: export this as a metric and alert
 * when it grows.
 */
export async function oldestTransactionAgeSeconds(db: Pool | ClientBase): Promise<number> {
  const { rows } = await db.query<{ age: number }>(oldestTransactionAgeSql);
  return rows[0]?.age ?? 0;
}
