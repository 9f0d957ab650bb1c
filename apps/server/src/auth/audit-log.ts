import type { Pool } from 'pg';

export interface AuditEntry {
  readonly actorKeyId: string | null;
  readonly action: string;
  readonly target?: string;
  readonly outcome: 'done' | 'refused' | 'not-found' | 'no-op';
  /** Never personal data or secrets: ids, counts, reasons. */
  readonly details?: Record<string, unknown>;
}

/** Every admin action lands here; the table refuses updates and deletes. */
export class AuditLog {
  constructor(private readonly pool: Pool) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.pool.query(
      'INSERT INTO access.audit_log (actor_key_id, action, target, outcome, details) VALUES ($1, $2, $3, $4, $5)',
      [
        entry.actorKeyId,
        entry.action,
        entry.target ?? null,
        entry.outcome,
        entry.details ? JSON.stringify(entry.details) : null,
      ],
    );
  }

  async list(limit: number): Promise<
    Array<{
      id: string;
      at: Date;
      actorKeyId: string | null;
      action: string;
      target: string | null;
      outcome: string;
      details: unknown;
    }>
  > {
    const result = await this.pool.query<{
      id: string;
      at: Date;
      actor_key_id: string | null;
      action: string;
      target: string | null;
      outcome: string;
      details: unknown;
    }>(
      'SELECT id, at, actor_key_id, action, target, outcome, details FROM access.audit_log ORDER BY id DESC LIMIT $1',
      [limit],
    );
    return result.rows.map((r) => ({
      id: r.id,
      at: r.at,
      actorKeyId: r.actor_key_id,
      action: r.action,
      target: r.target,
      outcome: r.outcome,
      details: r.details,
    }));
  }
}
