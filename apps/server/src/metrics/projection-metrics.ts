import { oldestTransactionAgeSeconds } from '@touchline/event-store-postgres';
import type { Pool } from 'pg';
import { Gauge } from 'prom-client';
import type { ProjectionOperations } from '../operations/projection-operations';
import { metricsRegistry } from './metrics';

const PROJECTOR_STATES = [
  'running',
  'standing-by',
  'failing',
  'paused',
  'rebuilding',
  'starting',
  'stopped',
] as const;

/**
 * Gauges read from the database at scrape time: every process reports the same projection
 * facts (aggregate with max), so any role can be scraped. Labels: projection name, and the
 * segment (`<index>/<count>`) for a projection split into segments.
 */
export function registerProjectionMetrics(operations: ProjectionOperations, pool: Pool): void {
  const names = [
    'touchline_projection_checkpoint_position',
    'touchline_projection_head_position',
    'touchline_projection_lag_events',
    'touchline_projection_lag_seconds',
    'touchline_projection_last_applied_timestamp_seconds',
    'touchline_projection_status',
    'touchline_projection_rebuild_events_applied',
    'touchline_projection_segment_checkpoint_position',
    'touchline_projection_segment_lag_events',
    'touchline_database_oldest_transaction_age_seconds',
    'touchline_database_up',
  ];
  // A second application in the same process (tests) replaces the first one's gauges.
  for (const name of names) metricsRegistry.removeSingleMetric(name);
  // Every gauge waits for the same refresh, so a scrape reads each projection once.
  let refreshing: Promise<void> | null = null;
  const collect = (): Promise<void> => {
    refreshing ??= refresh().finally(() => {
      refreshing = null;
    });
    return refreshing;
  };
  const gauge = (name: string, help: string, labelNames: string[] = ['projection']) =>
    new Gauge({ name, help, labelNames, registers: [metricsRegistry], collect });

  const checkpoint = gauge(
    'touchline_projection_checkpoint_position',
    'Global position of the last event the projection applied.',
  );
  const head = gauge(
    'touchline_projection_head_position',
    'Global position of the newest event a reader may see.',
  );
  const lagEvents = gauge(
    'touchline_projection_lag_events',
    'Stored events the projection has not applied yet.',
  );
  const lagSeconds = gauge(
    'touchline_projection_lag_seconds',
    'Seconds since the oldest event the projection has not applied was stored (0 when caught up).',
  );
  const lastApplied = gauge(
    'touchline_projection_last_applied_timestamp_seconds',
    'Unix time of the projection’s last committed batch.',
  );
  const status = gauge(
    'touchline_projection_status',
    'The projection’s status (1 for the current one), as the scraped process sees it.',
    ['projection', 'status'],
  );
  const rebuildApplied = gauge(
    'touchline_projection_rebuild_events_applied',
    'Events applied by the running rebuild (absent when none runs).',
  );
  const segmentCheckpoint = gauge(
    'touchline_projection_segment_checkpoint_position',
    'Global position of the last event a segment of a split projection applied.',
    ['projection', 'segment'],
  );
  const segmentLag = gauge(
    'touchline_projection_segment_lag_events',
    'Stored events a segment of a split projection has not looked at yet.',
    ['projection', 'segment'],
  );
  const oldestTransaction = gauge(
    'touchline_database_oldest_transaction_age_seconds',
    'Age of the oldest running transaction holding an id: readers of the log cannot pass it.',
    [],
  );
  const up = gauge('touchline_database_up', 'Whether the last scrape could read the database.', []);

  async function refresh(): Promise<void> {
    try {
      const views = await operations.list();
      for (const metric of [
        checkpoint,
        head,
        lagEvents,
        lagSeconds,
        lastApplied,
        status,
        rebuildApplied,
        segmentCheckpoint,
        segmentLag,
      ])
        metric.reset();
      for (const view of views) {
        const labels = { projection: view.name };
        checkpoint.set(labels, view.checkpointPosition);
        head.set(labels, view.headPosition);
        lagEvents.set(labels, view.lagEvents);
        lagSeconds.set(labels, view.lagSeconds);
        if (view.lastAppliedAt) lastApplied.set(labels, view.lastAppliedAt.getTime() / 1000);
        for (const state of PROJECTOR_STATES)
          status.set({ projection: view.name, status: state }, state === view.status ? 1 : 0);
        if (view.rebuild?.status === 'running')
          rebuildApplied.set(labels, view.rebuild.eventsApplied);
        for (const segment of view.segments) {
          const segmentLabels = { projection: view.name, segment: segment.segment };
          segmentCheckpoint.set(segmentLabels, segment.checkpointPosition);
          segmentLag.set(segmentLabels, segment.lagEvents);
        }
      }
      oldestTransaction.set(await oldestTransactionAgeSeconds(pool));
      up.set(1);
    } catch {
      up.set(0);
    }
  }
}
