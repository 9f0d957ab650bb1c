import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';
import type { Projection } from './projection';

type Json = Record<string, unknown>;

const object = (value: unknown): Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
const text = (value: unknown, max = 2_000): string | null =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;

/** What a web event says about the page and campaign (Segment's context.page / context.campaign). */
export function webTouchpointOf(event: RecordedEvent) {
  if (event.metadata['channel'] !== 'web' || typeof event.metadata['occurredAt'] !== 'string')
    return null;
  const context = object(event.data['context']);
  const page = object(context['page']);
  const properties = object(event.data['properties']);
  const campaign = object(context['campaign']);
  return {
    eventId: event.eventId,
    customerKey: event.streamId,
    occurredAt: event.metadata['occurredAt'],
    type: event.type,
    name: text(event.data['event']) ?? text(event.data['name']),
    url: text(page['url']) ?? text(properties['url']),
    path: text(page['path']) ?? text(properties['path']),
    referrer: text(page['referrer']) ?? text(properties['referrer']),
    title: text(page['title']) ?? text(properties['title']),
    utmSource: text(campaign['source']),
    utmMedium: text(campaign['medium']),
    utmCampaign: text(campaign['name']) ?? text(campaign['campaign']),
    utmTerm: text(campaign['term']),
    utmContent: text(campaign['content']),
  };
}

/** One row per web event; sessions are a view over these rows (read_models.web_sessions). */
export const webTouchpointsProjection: Projection = webTouchpointsProjectionIn('read_models');

function webTouchpointsProjectionIn(schema: string): Projection {
  const table = `${schema}.web_touchpoints`;
  return {
    name: 'web_touchpoints',
    version: 1,
    tables: [table],
    inSchema: webTouchpointsProjectionIn,
    // A batch inserts ON CONFLICT (event_id) and reads nothing: the timeline index by customer
    // can be built after a rebuild's replay.
    indexesBuiltAfterReplay: ['web_touchpoints_customer_time'],
    // Every row is keyed by the event's stream (customer key): it can run as segments.
    segmentKey: (event: RecordedEvent) => event.streamId,

    async apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
      const rows = events.map(webTouchpointOf).filter((row) => row !== null);
      if (rows.length === 0) return;
      const column = <T>(pick: (row: (typeof rows)[number]) => T): T[] => rows.map(pick);
      await client.query(
        `INSERT INTO ${table}
         (event_id, customer_key, occurred_at, type, name, url, path, referrer, title,
          utm_source, utm_medium, utm_campaign, utm_term, utm_content)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
       ON CONFLICT (event_id) DO NOTHING`,
        [
          column((r) => r.eventId),
          column((r) => r.customerKey),
          column((r) => r.occurredAt),
          column((r) => r.type),
          column((r) => r.name),
          column((r) => r.url),
          column((r) => r.path),
          column((r) => r.referrer),
          column((r) => r.title),
          column((r) => r.utmSource),
          column((r) => r.utmMedium),
          column((r) => r.utmCampaign),
          column((r) => r.utmTerm),
          column((r) => r.utmContent),
        ],
      );
    },
  };
}
