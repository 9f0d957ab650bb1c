import { InProcessTransport } from './in-process-transport';
import { murmur2, partitionForKey } from './partition';
import { Received, transportContract, uniqueName, waitUntil } from './testing';
import { TransportUnavailableError, type InboundMessage } from './transport.port';

describe('InProcessTransport', () => {
  describe('transport contract', () => {
    const cases = transportContract({
      createTransport: () => new InProcessTransport({ retryDelayMs: 10, maxRetryDelayMs: 50 }),
      publishWaitsForConsumers: true,
      quietPeriodMs: 200,
      timeoutMs: 5000,
    });
    for (const c of cases) it(c.name, () => c.run());
  });

  let transport: InProcessTransport;
  let topic: string;
  beforeEach(async () => {
    transport = new InProcessTransport({ retryDelayMs: 10, maxRetryDelayMs: 50 });
    topic = uniqueName('topic');
    await transport.ensureTopics([{ name: topic, partitions: 3 }]);
  });
  afterEach(() => transport.close());

  it('rejects a publish when no consumer of the topic is running, and keeps nothing for later', async () => {
    const publish = transport
      .publisher()
      .publish([{ topic, key: 'k', value: Buffer.from('lost?') }]);
    await expect(publish).rejects.toBeInstanceOf(TransportUnavailableError);
    await expect(publish).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });

    const seen = new Received();
    await transport.consumer({ groupId: uniqueName('g'), topics: [topic] }).start(seen.handler);
    await transport.publisher().publish([{ topic, key: 'k', value: Buffer.from('kept') }]);
    expect(seen.values()).toEqual(['kept']);
  });

  it('rejects the whole publish when one of its topics has no consumer', async () => {
    const other = uniqueName('unconsumed');
    await transport.ensureTopics([{ name: other, partitions: 1 }]);
    const seen = new Received();
    await transport.consumer({ groupId: uniqueName('g'), topics: [topic] }).start(seen.handler);

    await expect(
      transport.publisher().publish([
        { topic, key: 'k', value: Buffer.from('a') },
        { topic: other, key: 'k', value: Buffer.from('b') },
      ]),
    ).rejects.toThrow(`No consumer of topic "${other}" is running`);
    expect(seen.messages).toEqual([]);
  });

  it('resolves a publish only after the handler resolved', async () => {
    let release: () => void = () => undefined;
    const handled: string[] = [];
    await transport.consumer({ groupId: uniqueName('g'), topics: [topic] }).start(async (batch) => {
      await new Promise<void>((resolve) => (release = resolve));
      handled.push(...batch.map((m) => m.value.toString()));
    });
    let resolved = false;
    const publishing = transport
      .publisher()
      .publish([{ topic, key: 'k', value: Buffer.from('x') }])
      .then(() => (resolved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    release();
    await publishing;
    expect(handled).toEqual(['x']);
  });

  it('rejects the publisher with the handler error as cause, then delivers the batch again', async () => {
    const cause = new Error('store is down');
    let calls = 0;
    const seen = new Received();
    await transport.consumer({ groupId: uniqueName('g'), topics: [topic] }).start(async (batch) => {
      calls += 1;
      if (calls === 1) throw cause;
      await seen.handler(batch);
    });
    const error: unknown = await transport
      .publisher()
      .publish([{ topic, key: 'k', value: Buffer.from('x') }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportUnavailableError);
    expect((error as Error).cause).toBe(cause);
    await waitUntil(() => seen.messages.length === 1, { timeoutMs: 2000 });
    expect(seen.values()).toEqual(['x']);
  });

  it('numbers offsets per partition from zero, without gaps', async () => {
    const seen = new Received();
    await transport.consumer({ groupId: uniqueName('g'), topics: [topic] }).start(seen.handler);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (let round = 0; round < 3; round++) {
      await transport
        .publisher()
        .publish(keys.map((key) => ({ topic, key, value: Buffer.from(key) })));
    }
    const byPartition = new Map<number, string[]>();
    for (const m of seen.messages) {
      expect(m.partition).toBe(partitionForKey(m.key!, 3));
      byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m.offset]);
    }
    for (const offsets of byPartition.values()) {
      expect(offsets).toEqual(offsets.map((_, i) => String(i)));
    }
  });

  it('rejects pending publishes when the last consumer of a group stops', async () => {
    let started: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    let release: () => void = () => undefined;
    const consumer = transport.consumer({ groupId: uniqueName('g'), topics: [topic] });
    await consumer.start(async () => {
      started();
      await new Promise<void>((resolve) => (release = resolve));
    });
    const publisher = transport.publisher();
    const handledFirst = publisher.publish([{ topic, key: 'k', value: Buffer.from('first') }]);
    await inHandler;
    const waitingSecond = publisher.publish([{ topic, key: 'k', value: Buffer.from('second') }]);
    const stopping = consumer.stop();
    release();
    await stopping;
    await expect(handledFirst).resolves.toBeUndefined();
    await expect(waitingSecond).rejects.toThrow(/stopped/);
  });

  it('stops consumers on close and rejects later publishes', async () => {
    const seen = new Received();
    const consumer = transport.consumer({ groupId: uniqueName('g'), topics: [topic] });
    await consumer.start(seen.handler);
    await expect(transport.isHealthy()).resolves.toBe(true);
    await transport.close();
    await expect(transport.isHealthy()).resolves.toBe(false);
    await expect(
      transport.publisher().publish([{ topic, key: 'k', value: Buffer.from('x') }]),
    ).rejects.toBeInstanceOf(TransportUnavailableError);
    expect(seen.messages).toEqual([]);
  });

  it('uses the injected clock for timestamps', async () => {
    const clock = new Date('2024-05-01T10:00:00.000Z');
    const timed = new InProcessTransport({ now: () => clock });
    try {
      const seen: InboundMessage[] = [];
      await timed.consumer({ groupId: 'g', topics: ['t'] }).start(async (batch) => {
        seen.push(...batch);
        await Promise.resolve();
      });
      await timed.publisher().publish([{ topic: 't', key: 'k', value: Buffer.from('x') }]);
      expect(seen.map((m) => m.timestamp.toISOString())).toEqual([clock.toISOString()]);
    } finally {
      await timed.close();
    }
  });

  it('starts a new group at the end of the retained messages when fromBeginning is false', async () => {
    const failing = transport.consumer({ groupId: uniqueName('g'), topics: [topic] });
    await failing.start(() => Promise.reject(new Error('keep it uncommitted')));
    await expect(
      transport.publisher().publish([{ topic, key: 'k', value: Buffer.from('old') }]),
    ).rejects.toBeInstanceOf(TransportUnavailableError);
    await failing.stop();

    const late = new Received();
    const early = new Received();
    await transport
      .consumer({ groupId: uniqueName('late'), topics: [topic], fromBeginning: false })
      .start(late.handler);
    await transport
      .consumer({ groupId: uniqueName('early'), topics: [topic] })
      .start(early.handler);
    await transport.publisher().publish([{ topic, key: 'k', value: Buffer.from('new') }]);
    expect(late.values()).toEqual(['new']);
    expect(early.values()).toEqual(['old', 'new']);
  });
});

describe('partitionForKey', () => {
  it("matches Kafka's murmur2 (values from Kafka's UtilsTest)", () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('keeps a key in one partition within range', () => {
    for (let n = 0; n < 200; n++) {
      const p = partitionForKey(`key-${n}`, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
      expect(partitionForKey(`key-${n}`, 7)).toBe(p);
    }
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});
