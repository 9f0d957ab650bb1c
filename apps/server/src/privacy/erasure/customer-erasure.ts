import { createHash } from 'node:crypto';
import { appendToStreamWithin } from '@touchline/event-store-postgres';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { EncryptingEventStore } from '../crypto/encrypting-event-store';
import { deleteDeadLettersMentioning, identifierValuesOf } from './dead-letter-erasure';
import { newIdentityGeneration } from '../../profiles/identity-generation';
import {
  APPEND_ONLY_BY_CUSTOMER_ID,
  BY_CUSTOMER_ID,
  BY_CUSTOMER_KEY,
  BY_IDENTIFIER,
  COPY_SCHEMAS,
  identifierOfStreamId,
  READ_MODEL_SCHEMAS,
  streamIdsOf,
  withCopies,
} from './erasure-targets';

/** The event type of the erasure record in the event store (no personal data in it). */
export const CUSTOMER_ERASED = 'CustomerErased';

export interface ErasureOutcome {
  readonly customerId: string;
  readonly status: 'erased' | 'already-erased';
  readonly message: string;
  readonly erasedAt: string;
  /** Identifiers' subjects (pseudonyms) whose keys were destroyed or already gone. */
  readonly subjects: number;
  readonly keysDestroyed: number;
  /** Read-model rows deleted. */
  readonly readModelRows: number;
  /** Dead letters (raw rejected input) deleted because they named one of the identifiers. */
  readonly deadLetters: number;
}

export class CustomerNotFoundError extends Error {
  readonly code = 'NOT_FOUND';
}

interface ErasureRow {
  customer_id: string;
  erased_at: Date;
  subjects: string[];
  keys_destroyed: number;
  read_model_rows: number;
  dead_letters: number;
}

/**
 * The right to be forgotten in an immutable history (crypto-shredding): the keys of every
 * identifier of the customer are destroyed, so their personal data in the event store (and in
 * anything republished from it) can never be opened again; their rows leave every read model;
 * an erasure event without personal data is appended, and a `privacy.erasures` row makes a
 * second request a no-op. A replay from zero afterwards sees the events with the personal fields
 * null and pseudonyms as stream ids.
 */
export class CustomerErasure {
  constructor(
    private readonly pool: Pool,
    private readonly store: EncryptingEventStore,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Erases the customer with this id (from /v1/profiles) or with this identifier
   * (`email:ada@example.com`, `userId:ada`, or a stream key such as `user:ada`).
   */
  async eraseOrThrow(idOrIdentifier: string, requestedBy: string | null): Promise<ErasureOutcome> {
    const before = await this.previousErasure(idOrIdentifier);
    if (before) return this.alreadyErased(before);

    const customer = await this.resolveOrThrow(idOrIdentifier);
    const streamIds = [...new Set(customer.identifiers.flatMap(streamIdsOf))];
    const subjects = [...new Set(streamIds.map((id) => this.store.subjectOf(id)))].sort();

    // Keys first: from here the personal data is unreadable everywhere (other processes within
    // the key cache time). A crash before the transaction below leaves the read-model rows; the
    // retry finds the customer again, destroys nothing more, and deletes them.
    const keysDestroyed = await this.store.destroyKeysOf(streamIds);
    const erasedAt = this.clock();
    const client = await this.pool.connect();
    let readModelRows: number;
    let deadLetters: number;
    try {
      await client.query('BEGIN');
      // Serializes with the profile projection's batches (it takes this lock first), and makes it
      // reload its in-memory identity graph, which still holds the identifiers.
      const generation = await client.query(
        'SELECT generation FROM read_models.identity_generation FOR UPDATE',
      );
      readModelRows = await this.deleteRows(client, customer.customerId, customer.identifiers, [
        ...streamIds,
      ]);
      deadLetters = await deleteDeadLettersMentioning(
        client,
        identifierValuesOf(customer.identifiers),
      );
      if (generation.rows.length > 0) {
        await client.query('UPDATE read_models.identity_generation SET generation = $1', [
          newIdentityGeneration().toString(),
        ]);
      }
      const inserted = await client.query(
        `INSERT INTO privacy.erasures
           (customer_id, erased_at, subjects, keys_destroyed, read_model_rows, dead_letters, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (customer_id) DO NOTHING`,
        [
          customer.customerId,
          erasedAt,
          subjects,
          keysDestroyed,
          readModelRows,
          deadLetters,
          requestedBy,
        ],
      );
      if (inserted.rowCount === 0) {
        // Another request erased the same customer meanwhile: its record stands.
        await client.query('ROLLBACK');
        const row = await this.previousErasure(customer.customerId);
        if (row) return this.alreadyErased(row);
        throw new Error('The erasure record vanished while it was being written');
      }
      await appendToStreamWithin(client, `erasure:${customer.customerId}`, [
        {
          eventId: stableUuid('touchline-erasure', customer.customerId),
          type: CUSTOMER_ERASED,
          schemaVersion: 1,
          data: {
            customerId: customer.customerId,
            subjects,
            keysDestroyed,
            readModelRows,
            deadLetters,
          },
          metadata: { occurredAt: erasedAt.toISOString(), requestedBy },
        },
      ]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    this.sweepLater(customer.customerId, customer.identifiers, streamIds);
    this.logger.info(
      {
        customerId: customer.customerId,
        subjects: subjects.length,
        keysDestroyed,
        readModelRows,
        deadLetters,
      },
      'customer erased',
    );
    return {
      customerId: customer.customerId,
      status: 'erased',
      message: `Customer erased: ${keysDestroyed} keys destroyed, ${readModelRows} read-model rows and ${deadLetters} dead letters deleted.`,
      erasedAt: erasedAt.toISOString(),
      subjects: subjects.length,
      keysDestroyed,
      readModelRows,
      deadLetters,
    };
  }

  /** The erasure already recorded for this customer id, or for the customer this identifier was. */
  private async previousErasure(idOrIdentifier: string): Promise<ErasureRow | null> {
    const identifier = identifierOfStreamId(idOrIdentifier);
    const subjects =
      identifier === null
        ? []
        : streamIdsOf(identifier).map((streamId) => this.store.subjectOf(streamId));
    const { rows } = await this.pool.query<ErasureRow>(
      `SELECT customer_id, erased_at, subjects, keys_destroyed, read_model_rows, dead_letters
         FROM privacy.erasures
        WHERE customer_id = $1 OR subjects && $2::text[]
        ORDER BY erased_at LIMIT 1`,
      [idOrIdentifier, subjects],
    );
    return rows[0] ?? null;
  }

  private alreadyErased(row: ErasureRow): ErasureOutcome {
    return {
      customerId: row.customer_id,
      status: 'already-erased',
      message: `Customer already erased on ${row.erased_at.toISOString()}: nothing changed.`,
      erasedAt: row.erased_at.toISOString(),
      subjects: row.subjects.length,
      keysDestroyed: row.keys_destroyed,
      readModelRows: row.read_model_rows,
      deadLetters: row.dead_letters,
    };
  }

  private async resolveOrThrow(
    idOrIdentifier: string,
  ): Promise<{ customerId: string; identifiers: string[] }> {
    const identifier = identifierOfStreamId(idOrIdentifier);
    const { rows } = await this.pool.query<{ customer_id: string; identifier: string }>(
      `SELECT customer_id, identifier FROM read_models.customer_identifiers
        WHERE customer_id = (
          SELECT customer_id FROM read_models.customer_identifiers
           WHERE customer_id = $1 OR identifier = $2 LIMIT 1)`,
      [idOrIdentifier, identifier],
    );
    const customerId = rows[0]?.customer_id;
    if (customerId === undefined) {
      throw new CustomerNotFoundError(
        'No customer with this id or identifier: nothing was erased (ids come from GET /v1/profiles or /v1/profiles/lookup).',
      );
    }
    return { customerId, identifiers: rows.map((row) => row.identifier).sort() };
  }

  /** Deletes the customer's rows from every read model (erasure-targets.ts); answers how many. */
  private async deleteRows(
    client: PoolClient,
    customerId: string,
    identifiers: readonly string[],
    streamIds: readonly string[],
  ): Promise<number> {
    const existing = await this.existingTables(client);
    let deleted = 0;
    const run = async (table: string, where: string, parameter: unknown) => {
      for (const copy of withCopies(table)) {
        if (!existing.has(copy)) continue;
        // Table names come from the constant lists in erasure-targets.ts, never from a request.
        const result = await client.query(`DELETE FROM ${copy} WHERE ${where}`, [parameter]);
        deleted += result.rowCount ?? 0;
      }
    };
    for (const table of BY_CUSTOMER_KEY) {
      await run(table, 'customer_key = ANY($1::text[])', streamIds);
    }
    for (const table of BY_IDENTIFIER) {
      await run(table, 'identifier = ANY($1::text[])', identifiers);
    }
    await run('read_models.identity_observations', 'identifiers && $1::text[]', identifiers);
    await run(
      'read_models.identity_links',
      'identifier_a = ANY($1::text[]) OR identifier_b = ANY($1::text[]) OR evidence_identifiers && $1::text[]',
      identifiers,
    );
    for (const table of BY_CUSTOMER_ID) {
      await run(table, 'customer_id = $1', customerId);
    }
    for (const { table, trigger } of APPEND_ONLY_BY_CUSTOMER_ID) {
      if (!existing.has(table)) continue;
      // Lifted inside this transaction only (DDL is transactional): nobody else ever sees the
      // history without its guard, and the erasure itself is in the audit log.
      await client.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`);
      await run(table, 'customer_id = $1', customerId);
      await client.query(`ALTER TABLE ${table} ENABLE TRIGGER ${trigger}`);
    }
    deleted += await this.deleteRevocations(client, existing, identifiers);
    return deleted;
  }

  /** Unmerges an admin asked for that name one of the identifiers (a small table). */
  private async deleteRevocations(
    client: PoolClient,
    existing: ReadonlySet<string>,
    identifiers: readonly string[],
  ): Promise<number> {
    if (!existing.has('identity.revocations')) return 0;
    const { rows } = await client.query<{ revocation_key: string; text: string }>(
      `SELECT revocation_key, revocation_key || target::text || revocation::text AS text
         FROM identity.revocations`,
    );
    const naming = rows
      .filter((row) => identifiers.some((identifier) => row.text.includes(identifier)))
      .map((row) => row.revocation_key);
    if (naming.length === 0) return 0;
    const result = await client.query(
      'DELETE FROM identity.revocations WHERE revocation_key = ANY($1::text[])',
      [naming],
    );
    return result.rowCount ?? 0;
  }

  private async existingTables(client: PoolClient): Promise<Set<string>> {
    const { rows } = await client.query<{ name: string }>(
      `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
        WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'`,
      [[...READ_MODEL_SCHEMAS, ...COPY_SCHEMAS]],
    );
    return new Set(rows.map((row) => row.name));
  }

  /**
   * A projector batch that read the customer's events before the keys were destroyed (in this
   * process, or in another within its key cache time) may still write rows after the erasure:
   * the read models are swept once more when that time has passed.
   */
  private sweepLater(customerId: string, identifiers: string[], streamIds: string[]): void {
    const timer = setTimeout(() => {
      void (async () => {
        const client = await this.pool.connect();
        try {
          await client.query('BEGIN');
          await client.query('SELECT generation FROM read_models.identity_generation FOR UPDATE');
          const rows = await this.deleteRows(client, customerId, identifiers, streamIds);
          // A dead letter on its way through the dead-letter topic may be stored after the erasure.
          const deadLetters = await deleteDeadLettersMentioning(
            client,
            identifierValuesOf(identifiers),
          );
          if (rows > 0) {
            await client.query('UPDATE read_models.identity_generation SET generation = $1', [
              newIdentityGeneration().toString(),
            ]);
          }
          await client.query('COMMIT');
          if (rows > 0 || deadLetters > 0) {
            this.logger.info({ customerId, rows, deadLetters }, 'erasure sweep deleted late rows');
          }
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          this.logger.warn({ err: error, customerId }, 'erasure sweep failed');
        } finally {
          client.release();
        }
      })().catch(() => undefined);
    }, this.store.keyCacheMs + 5_000);
    timer.unref();
  }
}

/** A UUID-shaped hash: one erasure event per customer, whatever retries happen. */
function stableUuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
