import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The process's Prometheus registry and its event counters. Labels are bounded sets only
 * (channel, outcome, reason code, projection name): never a customer, source or event id.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'touchline_' });

const CHANNEL = ['channel'] as const;

export const collectorEventsReceived = new Counter({
  name: 'touchline_collector_events_received_total',
  help: 'Messages the collector received, per channel (accepted + rejected).',
  labelNames: CHANNEL,
  registers: [metricsRegistry],
});

export const collectorEventsAccepted = new Counter({
  name: 'touchline_collector_events_accepted_total',
  help: 'Messages the collector validated and published, per channel.',
  labelNames: CHANNEL,
  registers: [metricsRegistry],
});

export const collectorEventsRejected = new Counter({
  name: 'touchline_collector_events_rejected_total',
  help: 'Messages the collector refused (kept as dead letters), per channel.',
  labelNames: CHANNEL,
  registers: [metricsRegistry],
});

export const recorderEventsStored = new Counter({
  name: 'touchline_recorder_events_stored_total',
  help: 'Events the recorder appended to the event store.',
  registers: [metricsRegistry],
});

export const recorderDuplicatesSkipped = new Counter({
  name: 'touchline_recorder_duplicates_skipped_total',
  help: 'Redelivered events the recorder found already stored and skipped.',
  registers: [metricsRegistry],
});

export const eventsSuppressed = new Counter({
  name: 'touchline_events_suppressed_total',
  help: 'Events the recorder dropped because one of their identifiers is suppressed.',
  registers: [metricsRegistry],
});

export const deadLettersStored = new Counter({
  name: 'touchline_dead_letters_stored_total',
  help: 'Dead letters the recorder stored, per reason code.',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});

export const httpRequests = new Counter({
  name: 'touchline_http_requests_total',
  help: 'HTTP requests answered, per method, route pattern (never the raw URL) and status.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});
