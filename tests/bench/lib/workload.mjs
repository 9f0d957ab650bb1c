// The events the benchmark sends, and what the platform turns them into. Envelopes and ingest
// batches are produced by the platform's own code (CollectorService, Recorder) with capturing
// ports, so the baselines and the stage measurements see the same bytes and the same batches.
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from './services.mjs';

const require = createRequire(path.join(REPO_ROOT, 'package.json'));
const dist = (p) => require(path.join(REPO_ROOT, 'apps/server/dist', p));

// Custom event names: Segment's ecommerce names (Order Completed...) map to typed events with
// their own required properties.
const EVENTS = ['Article Read', 'Video Played', 'Button Clicked', 'Search Performed', 'Signed Up'];
const PATHS = ['/pricing', '/products/42', '/checkout', '/blog/event-sourcing', '/'];
const BASE_TIME = Date.parse('2025-01-01T00:00:00Z');

/**
 * A Segment track call as analytics.js sends it (about 550 bytes of JSON): a user from a pool
 * of `customers`, a unique messageId, properties and a browser context.
 */
export function trackMessage(runId, i, customers) {
  return {
    type: 'track',
    userId: `${runId}-u${i % customers}`,
    event: EVENTS[i % EVENTS.length],
    messageId: `${runId}-m${i}`,
    timestamp: new Date(BASE_TIME + i * 10).toISOString(),
    properties: {
      article_id: `a-${i % 997}`,
      score: (i % 200) + 0.99,
      section: 'engineering',
      position: 1 + (i % 3),
    },
    context: {
      ip: '203.0.113.7',
      locale: 'en-GB',
      page: {
        path: PATHS[i % PATHS.length],
        url: `https://shop.example.com${PATHS[i % PATHS.length]}`,
      },
      userAgent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      library: { name: 'analytics.js', version: '4.1.0' },
    },
  };
}

export function messages(runId, from, count, customers) {
  const list = new Array(count);
  for (let k = 0; k < count; k++) list[k] = trackMessage(runId, from + k, customers);
  return list;
}

/**
 * The Kafka messages the collector would publish for these Segment messages, made by the
 * collector's own CollectorService with a publisher that keeps them.
 */
export async function envelopes(topics, segmentMessages) {
  const { CollectorService } = dist('collector/collector.service.js');
  const captured = [];
  const service = new CollectorService({ publish: async (m) => void captured.push(...m) }, topics);
  const chunk = 500;
  for (let i = 0; i < segmentMessages.length; i += chunk) {
    const results = await service.ingest({
      principal: {
        keyId: 'bench',
        role: 'ingestion',
        sourceId: 'bench-web',
        channel: 'web',
        rateLimitPerSecond: null,
      },
      endpoint: '/v1/batch',
      receivedAt: new Date(),
      messages: segmentMessages.slice(i, i + chunk),
      impliedType: null,
      defaults: {},
      correlationId: 'bench',
    });
    const rejected = results.find((r) => r.status !== 'accepted');
    if (rejected)
      throw new Error(`the benchmark's own event was rejected: ${JSON.stringify(rejected)}`);
  }
  return captured;
}

/**
 * The store batches the recorder forms: envelopes grouped into Kafka fetch batches (one
 * partition each, `perBatch` messages, as kafkajs hands them to eachBatch), each turned into
 * StreamBatch[] by the real Recorder with a store that keeps what it is asked to ingest.
 */
export async function ingestBatches(outbound, partitions, perBatch) {
  const { Recorder } = dist('recorder/recorder.js');
  const { partitionForKey, ingestTopics } = require('@touchline/messaging');
  const pino = require('pino');
  const byPartition = Array.from({ length: partitions }, () => []);
  for (const message of outbound)
    byPartition[partitionForKey(message.key, partitions)].push(message);
  const captured = [];
  const store = {
    ingest: async (batches) => {
      captured.push(batches);
      return { stored: batches.reduce((n, b) => n + b.events.length, 0), duplicates: 0 };
    },
  };
  const topics = ingestTopics('bench');
  const recorder = new Recorder(
    store,
    topics,
    { save: async () => undefined },
    pino({ level: 'silent' }),
    // No suppressed identifiers in the generated mix.
    { suppressedAmong: async () => new Set() },
  );
  // Round-robin over partitions, like a consumer working through several partitions at once.
  const offsets = new Array(partitions).fill(0);
  let left = outbound.length;
  while (left > 0) {
    for (let p = 0; p < partitions; p++) {
      const slice = byPartition[p].splice(0, perBatch);
      if (slice.length === 0) continue;
      left -= slice.length;
      const inbound = slice.map((m) => ({
        topic: m.topic,
        partition: p,
        offset: String(offsets[p]++),
        key: m.key,
        value: m.value,
        headers: m.headers,
        timestamp: new Date(),
      }));
      await recorder.record(inbound);
    }
  }
  return captured;
}

export function serverDist(p) {
  return dist(p);
}

export { require as benchRequire };
