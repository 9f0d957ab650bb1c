import { TransportUnavailableError, type InboundMessage } from '@touchline/messaging';
import { Received, transportContract, waitUntil } from '@touchline/messaging/testing';
import { KafkaTransport, type KafkaTransportOptions } from './kafka-transport';
import { kafkaBrokersForTestsSync, uniqueTopicName } from './testing';

const target = kafkaBrokersForTestsSync();
if ('skip' in target) process.stderr.write(`${target.skip}\n`);
const describeKafka = 'skip' in target ? describe.skip : describe;
const brokers = 'skip' in target ? [] : target.brokers;

/** Short group timings so members join and rebalance quickly in tests. */
const testOptions = (): KafkaTransportOptions => ({
  brokers,
  clientId: uniqueTopicName('test-client'),
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
  retryDelayMs: 50,
  maxRetryDelayMs: 500,
});

describeKafka('KafkaTransport (real broker)', () => {
  jest.setTimeout(60_000);

  describe('transport contract', () => {
    const cases = transportContract({
      createTransport: () => new KafkaTransport(testOptions()),
      publishWaitsForConsumers: false,
      quietPeriodMs: 1500,
      timeoutMs: 30_000,
    });
    for (const c of cases) it(c.name, () => c.run());
  });

  let transport: KafkaTransport;
  beforeEach(() => {
    transport = new KafkaTransport(testOptions());
  });
  afterEach(() => transport.close());

  it('creates topics idempotently, with the requested partitions', async () => {
    const name = uniqueTopicName('ensure');
    await transport.ensureTopics([{ name, partitions: 5, retentionMs: 3_600_000 }]);
    await transport.ensureTopics([{ name, partitions: 5 }]);

    const seen = new Received();
    await transport.consumer({ groupId: uniqueTopicName('g'), topics: [name] }).start(seen.handler);
    const keys = Array.from({ length: 40 }, (_, n) => `k${n}`);
    await transport
      .publisher()
      .publish(keys.map((key) => ({ topic: name, key, value: Buffer.from(key) })));
    await waitUntil(() => seen.messages.length >= keys.length, { timeoutMs: 30_000 });
    expect(new Set(seen.messages.map((m) => m.partition))).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('is healthy while the broker answers', async () => {
    await expect(transport.isHealthy()).resolves.toBe(true);
    await transport.close();
    await expect(transport.isHealthy()).resolves.toBe(false);
  });

  it('rejects a publish to a topic that does not exist (no auto-creation) within the publish bound', async () => {
    const bounded = new KafkaTransport({ ...testOptions(), publishTimeoutMs: 4000 });
    try {
      const started = Date.now();
      await expect(
        bounded
          .publisher()
          .publish([{ topic: uniqueTopicName('missing'), key: 'k', value: Buffer.from('x') }]),
      ).rejects.toBeInstanceOf(TransportUnavailableError);
      expect(Date.now() - started).toBeLessThan(6000);
    } finally {
      await bounded.close();
    }
  });

  it('publishes again after a failed publish (the producer is replaced)', async () => {
    const topic = uniqueTopicName('after-failure');
    await transport.ensureTopics([{ name: topic, partitions: 1 }]);
    const seen: InboundMessage[] = [];
    await transport
      .consumer({ groupId: uniqueTopicName('g'), topics: [topic] })
      .start(async (batch) => {
        seen.push(...batch);
        await Promise.resolve();
      });
    const publisher = transport.publisher();
    await publisher.publish([{ topic, key: 'k', value: Buffer.from('before') }]);
    await expect(
      publisher.publish([
        { topic: uniqueTopicName('missing'), key: 'k', value: Buffer.from('lost') },
      ]),
    ).rejects.toBeInstanceOf(TransportUnavailableError);
    await publisher.publish([{ topic, key: 'k', value: Buffer.from('after') }]);
    await waitUntil(() => seen.length >= 2, { timeoutMs: 30_000 });
    expect(seen.map((m) => m.value.toString())).toEqual(['before', 'after']);
  });
});

describe('KafkaTransport without a broker', () => {
  it('rejects a publish with TransportUnavailableError within a bounded time, and reports unhealthy', async () => {
    const logged: { level: string; message: string; fields: unknown }[] = [];
    const capture =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void => {
        logged.push({ level, message, fields });
      };
    const dead = new KafkaTransport({
      brokers: ['127.0.0.1:1'],
      clientId: 'dead-broker-test',
      publishTimeoutMs: 5000,
      logger: { info: capture('info'), warn: capture('warn'), error: capture('error') },
    });
    try {
      const started = Date.now();
      const error: unknown = await dead
        .publisher()
        .publish([{ topic: 'touchline.test.v1', key: 'k', value: Buffer.from('secret-payload') }])
        .catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(TransportUnavailableError);
      expect(error).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });
      expect(elapsed).toBeLessThan(6000);
      await expect(dead.isHealthy()).resolves.toBe(false);
      await expect(dead.ensureTopics([{ name: 'x', partitions: 1 }])).rejects.toBeInstanceOf(
        TransportUnavailableError,
      );
      // kafkajs's connection errors reach the injected logger (errors only by default), payloads never.
      expect(logged.some((entry) => entry.level === 'error')).toBe(true);
      expect(logged.every((entry) => entry.level === 'error')).toBe(true);
      expect(JSON.stringify(logged)).not.toContain('secret-payload');
    } finally {
      await dead.close();
    }
  }, 30_000);
});
