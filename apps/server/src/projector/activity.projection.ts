import { type ActivityState, type ActivityTouchpoint, evolveActivity } from '@touchline/activity';
import { CHANNELS, type Channel } from '@touchline/contracts';
import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';
import type { Projection } from './projection';

interface ActivityRow {
  customer_key: string;
  web_events: number;
  email_events: number;
  phone_events: number;
  other_events: number;
  total_events: number;
  first_seen_at: Date;
  last_seen_at: Date;
  last_event_type: string;
  last_channel: Channel;
  last_event_name: string | null;
  last_event_id: string;
}

function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

/** The touchpoint an event describes, or null for events that are not contacts. */
export function touchpointOf(event: RecordedEvent): ActivityTouchpoint | null {
  const { channel, occurredAt } = event.metadata;
  if (!isChannel(channel) || typeof occurredAt !== 'string') return null;
  // What the touchpoint was about: the tracked event's name, or the page's.
  const name = event.data['event'] ?? event.data['name'];
  return {
    customerKey: event.streamId,
    eventId: event.eventId,
    type: event.type,
    channel,
    occurredAt: new Date(occurredAt),
    name: typeof name === 'string' ? name : null,
  };
}

function fromRow(row: ActivityRow): ActivityState {
  return {
    lastEventId: row.last_event_id,
    summary: {
      customerKey: row.customer_key,
      eventsByChannel: {
        web: row.web_events,
        email: row.email_events,
        phone: row.phone_events,
        other: row.other_events,
      },
      totalEvents: row.total_events,
      firstSeenAt: row.first_seen_at,
      lastSeenAt: row.last_seen_at,
      lastEventType: row.last_event_type,
      lastChannel: row.last_channel,
      lastEventName: row.last_event_name,
    },
  };
}

/** Activity summary per customer key, kept in read_models.customer_activity. */
export const activityProjection: Projection = activityProjectionIn('read_models');

function activityProjectionIn(schema: string): Projection {
  const table = `${schema}.customer_activity`;
  return {
    name: 'customer_activity',
    version: 1,
    tables: [table],
    inSchema: activityProjectionIn,
    // Every row is keyed by the event's stream (customer key): it can run as segments.
    segmentKey: (event: RecordedEvent) => event.streamId,

    async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
      const touchpoints = events
        .map(touchpointOf)
        .filter((t): t is ActivityTouchpoint => t !== null);
      if (touchpoints.length === 0) return;
      const keys = [...new Set(touchpoints.map((t) => t.customerKey))];
      const existing = await client.query<ActivityRow>(
        `SELECT * FROM ${table} WHERE customer_key = ANY($1::text[])`,
        [keys],
      );
      const states = new Map<string, ActivityState | null>(
        existing.rows.map((row) => [row.customer_key, fromRow(row)]),
      );
      for (const touchpoint of touchpoints) {
        states.set(
          touchpoint.customerKey,
          evolveActivity(states.get(touchpoint.customerKey) ?? null, touchpoint),
        );
      }
      const changed = keys
        .map((key) => states.get(key))
        .filter((s): s is ActivityState => s !== null && s !== undefined);
      const column = <T>(pick: (state: ActivityState) => T): T[] => changed.map(pick);
      await client.query(
        `INSERT INTO ${table} AS a
         (customer_key, web_events, email_events, phone_events, other_events, total_events,
          first_seen_at, last_seen_at, last_event_type, last_channel, last_event_name, last_event_id)
       SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[],
                            $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[])
       ON CONFLICT (customer_key) DO UPDATE SET
         web_events = excluded.web_events, email_events = excluded.email_events,
         phone_events = excluded.phone_events, other_events = excluded.other_events,
         total_events = excluded.total_events, first_seen_at = excluded.first_seen_at,
         last_seen_at = excluded.last_seen_at, last_event_type = excluded.last_event_type,
         last_channel = excluded.last_channel, last_event_name = excluded.last_event_name,
         last_event_id = excluded.last_event_id`,
        [
          column((s) => s.summary.customerKey),
          column((s) => s.summary.eventsByChannel.web),
          column((s) => s.summary.eventsByChannel.email),
          column((s) => s.summary.eventsByChannel.phone),
          column((s) => s.summary.eventsByChannel.other),
          column((s) => s.summary.totalEvents),
          column((s) => s.summary.firstSeenAt),
          column((s) => s.summary.lastSeenAt),
          column((s) => s.summary.lastEventType),
          column((s) => s.summary.lastChannel),
          column((s) => s.summary.lastEventName),
          column((s) => s.lastEventId),
        ],
      );
    },
  };
}
