import { Inject, Injectable } from '@nestjs/common';
import type { RecordedEvent } from '@touchline/event-store';
import { TouchlineException } from '../common/touchline.exception';
import type { Runtime } from '../platform/runtime';
import { RUNTIME } from '../platform/tokens';
import { customerProfileProjectionFromEnv } from './customer-profile.projection-config';
import { CUSTOMER_PROFILE_TABLES } from './customer-profile.projection';
import { type ProfileDto, type ProfileRow, profileDtoOf } from './profile-queries';

/** More history than this for one customer is refused: as-of is computed per request. */
export const AS_OF_MAX_EVENTS = 200_000;

export interface ProfileAsOfDto {
  customerId: string;
  at: string;
  /** Events of the customer's history that happened at or before `at` (by event time). */
  eventsConsidered: number;
  /**
   * The customers the history formed by then, biggest first: usually one; several when the
   * identifiers that make the customer today were still apart at that time.
   */
  profiles: ProfileDto[];
}

/** The stream an identifier's events are stored under (the inverse of the collector's keys). */
function streamIdOf(identifier: string): string | null {
  const colon = identifier.indexOf(':');
  const kind = identifier.slice(0, colon);
  const value = identifier.slice(colon + 1);
  switch (kind) {
    case 'userId':
      return `user:${value}`;
    case 'anonymousId':
      return `anon:${value}`;
    case 'email':
    case 'phone':
      return identifier;
    case 'externalId':
      // Contact-centre and CRM events carry "your CRM id", stored as ext:<id> (docs/identity.md).
      return value.startsWith('crm:') ? `ext:${value.slice(4)}` : null;
    default:
      return null;
  }
}

/**
 * A customer's profile as it was at a past time, computed on demand from the event store: the
 * live projection's own code runs over the history of the customer's streams up to that time,
 * into temporary tables of a transaction that is rolled back. So as-of now equals the live
 * profile, and nothing is written.
 */
@Injectable()
export class ProfileAsOf {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  async profileAsOfOrThrow(customerId: string, at: Date): Promise<ProfileAsOfDto> {
    const { pool, eventStore } = this.runtime;
    const current = await pool.query<{ identifier: string }>(
      'SELECT identifier FROM read_models.customer_identifiers WHERE customer_id = $1',
      [customerId],
    );
    if (current.rows.length === 0) {
      throw new TouchlineException('NOT_FOUND', `No customer with id ${customerId}`);
    }
    const streams = [
      ...new Set(current.rows.map((row) => streamIdOf(row.identifier)).filter((s) => s !== null)),
    ];
    const history = new Map<string, RecordedEvent>();
    for (const stream of streams) {
      for (const event of await eventStore.readStream(stream)) {
        const occurredAt = event.metadata['occurredAt'];
        if (typeof occurredAt === 'string' && new Date(occurredAt) <= at) {
          history.set(event.eventId, event);
        }
      }
      if (history.size > AS_OF_MAX_EVENTS) {
        throw new TouchlineException(
          'INVALID_REQUEST',
          `This customer has more than ${AS_OF_MAX_EVENTS} events; query read_models.customer_touchpoints instead`,
        );
      }
    }
    // Event-time order, as the canonical evaluation of the identity graph is.
    const events = [...history.values()].sort((a, b) => {
      const ta = String(a.metadata['occurredAt']);
      const tb = String(b.metadata['occurredAt']);
      return ta < tb ? -1 : ta > tb ? 1 : a.eventId < b.eventId ? -1 : 1;
    });

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const table of CUSTOMER_PROFILE_TABLES) {
        await client.query(
          `CREATE TEMP TABLE ${table} (LIKE read_models.${table} INCLUDING ALL) ON COMMIT DROP`,
        );
      }
      const projection = customerProfileProjectionFromEnv(process.env, 'pg_temp');
      for (let i = 0; i < events.length; i += 1_000) {
        await projection.apply(client, events.slice(i, i + 1_000));
      }
      const rows = await client.query<ProfileRow>(
        `SELECT * FROM pg_temp.customer_profiles ORDER BY total_events DESC, customer_id`,
      );
      return {
        customerId,
        at: at.toISOString(),
        eventsConsidered: events.length,
        profiles: rows.rows.map(profileDtoOf),
      };
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }
}
