import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { partitionForKey } from '../partition';
import {
  TransportUnavailableError,
  type BatchHandler,
  type InboundMessage,
  type OutboundMessage,
  type Transport,
} from '../transport.port';

export interface TransportContractSetup {
  /** A new transport for one case; the case closes it. */
  createTransport(): Transport | Promise<Transport>;
  /**
   * True when publish resolves only after the consumers handled the messages and rejects when a
   * handler rejected (in-process); false when it resolves once the broker stored them (Kafka).
   */
  readonly publishWaitsForConsumers: boolean;
  /** How long to watch for messages that must not arrive (default 1000 ms). */
  readonly quietPeriodMs?: number;
  /** How long to wait for messages that must arrive (default 20000 ms). */
  readonly timeoutMs?: number;
}

export interface TransportContractCase {
  readonly name: string;
  run(): Promise<void>;
}

/**
 * The behaviour every Transport adapter promises, as runner-agnostic cases:
 * `for (const c of transportContract(setup)) it(c.name, () => c.run(), timeout)`.
 * Every case uses fresh topic and group names.
 */
export function transportContract(setup: TransportContractSetup): readonly TransportContractCase[] {
  const quietMs = setup.quietPeriodMs ?? 1000;
  const timeoutMs = setup.timeoutMs ?? 20_000;
  const until = (what: string, predicate: () => boolean): Promise<void> =>
    waitUntil(predicate, { timeoutMs, what });

  const withTransport =
    (body: (transport: Transport) => Promise<void>) => async (): Promise<void> => {
      const transport = await setup.createTransport();
      try {
        await body(transport);
      } finally {
        await transport.close();
      }
    };

  const newTopic = async (transport: Transport, partitions = 3): Promise<string> => {
    const name = uniqueName('contract');
    await transport.ensureTopics([{ name, partitions }]);
    return name;
  };

  return [
    {
      name: 'delivers topic, key, value, headers, partition by key and offsets',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport);
        const seen = new Received();
        await transport
          .consumer({ groupId: uniqueName('group'), topics: [topic] })
          .start(seen.handler);

        const sent: OutboundMessage[] = [
          {
            topic,
            key: 'visitor-1',
            value: Buffer.from('one'),
            headers: { 'schema-id': '7', trace: 'a' },
          },
          { topic, key: 'visitor-2', value: Buffer.from([0, 1, 2, 255]) },
          { topic, key: 'visitor-1', value: Buffer.from('two'), headers: {} },
        ];
        await transport.publisher().publish(sent);
        if (setup.publishWaitsForConsumers) {
          assert.equal(seen.messages.length, 3, 'publish resolved before the handler ran');
        }
        await until('3 messages', () => seen.messages.length >= 3);

        for (const expected of sent) {
          const got = seen.messages.find((m) => m.value.equals(expected.value));
          assert.ok(got, `message ${expected.value.toString('hex')} not received`);
          assert.equal(got.topic, topic);
          assert.equal(got.key, expected.key);
          assert.deepEqual({ ...got.headers }, { ...(expected.headers ?? {}) });
          assert.equal(got.partition, partitionForKey(expected.key, 3));
          assert.match(got.offset, /^\d+$/);
          assert.ok(got.timestamp instanceof Date && !Number.isNaN(got.timestamp.getTime()));
        }
        const [one, two] = ['one', 'two'].map((v) =>
          seen.messages.find((m) => m.value.toString() === v)!,
        );
        assert.ok(BigInt(one!.offset) < BigInt(two!.offset), 'offsets do not grow within a key');
        assert.equal(seen.messages.length, 3, 'a message was delivered twice');
      }),
    },
    {
      name: 'keeps per-key order across many messages and partitions',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport, 4);
        const seen = new Received();
        await transport
          .consumer({ groupId: uniqueName('group'), topics: [topic] })
          .start(seen.handler);

        const keys = Array.from({ length: 12 }, (_, i) => `customer-${i}`);
        const perKey = 25;
        const all: OutboundMessage[] = [];
        for (let n = 0; n < perKey; n++) {
          for (const key of keys) all.push({ topic, key, value: Buffer.from(`${key}:${n}`) });
        }
        for (let at = 0; at < all.length; at += 30) {
          await transport.publisher().publish(all.slice(at, at + 30));
        }
        await until(`${all.length} messages`, () => seen.messages.length >= all.length);

        assert.equal(seen.messages.length, all.length, 'duplicates without any failure');
        for (const key of keys) {
          const order = seen.messages
            .filter((m) => m.key === key)
            .map((m) => Number(m.value.toString().split(':')[1]));
          assert.deepEqual(
            order,
            Array.from({ length: perKey }, (_, n) => n),
            `order of ${key}`,
          );
        }
        assert.ok(
          new Set(seen.messages.map((m) => m.partition)).size > 1,
          'only one partition used',
        );
        seen.assertBatchesInPartitionOrder();
      }),
    },
    {
      name: 'hands one partition to the handler one batch at a time, in offset order, under concurrent publishes',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport);
        const seen = new Received({ delayMs: 5 });
        await transport
          .consumer({ groupId: uniqueName('group'), topics: [topic] })
          .start(seen.handler);

        const publisher = transport.publisher();
        await Promise.all(
          Array.from({ length: 20 }, (_, call) =>
            publisher.publish(
              Array.from({ length: 5 }, (_, i) => ({
                topic,
                key: `key-${i}`,
                value: Buffer.from(`${call}-${i}`),
              })),
            ),
          ),
        );
        await until('100 messages', () => seen.messages.length >= 100);
        assert.equal(seen.maxConcurrentPerPartition, 1, 'one partition handled concurrently');
        seen.assertBatchesInPartitionOrder();
      }),
    },
    {
      name: 'delivers a rejected batch again, from its first message',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport);
        let failures = 0;
        let failedBatch: readonly InboundMessage[] = [];
        const handled = new Received();
        await transport
          .consumer({ groupId: uniqueName('group'), topics: [topic] })
          .start(async (batch) => {
            if (failures === 0) {
              failures += 1;
              failedBatch = batch;
              throw new Error('handler failed once');
            }
            await handled.handler(batch);
          });

        const sent = Array.from({ length: 5 }, (_, n) => ({
          topic,
          key: 'one-key',
          value: Buffer.from(`m${n}`),
        }));
        const publishing = transport.publisher().publish(sent);
        if (setup.publishWaitsForConsumers) {
          await assert.rejects(publishing, TransportUnavailableError);
        } else {
          await publishing;
        }
        await until('the batch again', () => handled.messages.length >= sent.length);

        assert.equal(failures, 1);
        assert.ok(failedBatch.length > 0);
        assert.equal(handled.messages[0]!.offset, failedBatch[0]!.offset, 'failed batch skipped');
        assert.deepEqual(
          handled.messages.map((m) => m.value.toString()),
          sent.map((m) => m.value.toString()),
        );
      }),
    },
    {
      name: 'commits offsets only after the handler resolved: a restarted group member sees only what was not committed',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport);
        const groupId = uniqueName('group');
        const first = new Received();
        const attempted = new Set<string>();
        const memberA = transport.consumer({ groupId, topics: [topic] });
        await memberA.start(async (batch) => {
          if (batch.some((m) => m.value.toString().startsWith('bad-'))) {
            for (const m of batch) attempted.add(m.value.toString());
            throw new Error('cannot handle bad messages');
          }
          await first.handler(batch);
        });

        const message = (value: string, n: number): OutboundMessage => ({
          topic,
          key: `k${n % 5}`,
          value: Buffer.from(value),
        });
        const good = Array.from({ length: 10 }, (_, n) => message(`ok-${n}`, n));
        const bad = Array.from({ length: 6 }, (_, n) => message(`bad-${n}`, n));
        await transport.publisher().publish(good);
        await until('the good messages', () => first.messages.length >= good.length);

        const publishingBad = transport.publisher().publish(bad);
        if (setup.publishWaitsForConsumers) {
          await assert.rejects(publishingBad, TransportUnavailableError);
        } else {
          await publishingBad;
        }
        await until('an attempt at every bad message', () =>
          bad.every((m) => attempted.has(m.value.toString())),
        );
        await memberA.stop();

        const second = new Received();
        await transport.consumer({ groupId, topics: [topic] }).start(second.handler);
        await until('the uncommitted messages', () =>
          bad.every((m) => second.values().includes(m.value.toString())),
        );
        await sleep(quietMs);
        assert.deepEqual(
          second.values().filter((v) => v.startsWith('ok-')),
          [],
          'committed messages were delivered again',
        );
      }),
    },
    {
      name: 'splits the partitions of a topic between the running members of a group',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport, 3);
        const groupId = uniqueName('group');
        const a = new Received();
        const b = new Received();
        await transport.consumer({ groupId, topics: [topic] }).start(a.handler);
        await transport.consumer({ groupId, topics: [topic] }).start(b.handler);

        const sent = keysCoveringPartitions(3, 4).map((key) => ({
          topic,
          key,
          value: Buffer.from(key),
        }));
        await transport.publisher().publish(sent);
        await until('every message', () => {
          const values = new Set([...a.values(), ...b.values()]);
          return sent.every((m) => values.has(m.value.toString()));
        });

        const partitionsOf = (r: Received) => new Set(r.messages.map((m) => m.partition));
        const [ofA, ofB] = [partitionsOf(a), partitionsOf(b)];
        assert.ok(
          ofA.size > 0 && ofB.size > 0,
          `one member got nothing: a=${[...ofA].join()} b=${[...ofB].join()}`,
        );
        assert.deepEqual(
          [...ofA].filter((p) => ofB.has(p)),
          [],
          'a partition went to both members',
        );
      }),
    },
    {
      name: 'delivers every message to each consumer group',
      run: withTransport(async (transport) => {
        const topic = await newTopic(transport);
        const a = new Received();
        const b = new Received();
        await transport
          .consumer({ groupId: uniqueName('group-a'), topics: [topic] })
          .start(a.handler);
        await transport
          .consumer({ groupId: uniqueName('group-b'), topics: [topic] })
          .start(b.handler);

        const sent = Array.from({ length: 9 }, (_, n) => ({
          topic,
          key: `k${n}`,
          value: Buffer.from(`v${n}`),
        }));
        await transport.publisher().publish(sent);
        await until('both groups', () => a.messages.length >= 9 && b.messages.length >= 9);
        assert.deepEqual(a.values().sort(), b.values().sort());
        assert.equal(a.messages.length, 9);
      }),
    },
  ];
}

/** Records what a handler receives. */
export class Received {
  readonly batches: (readonly InboundMessage[])[] = [];
  readonly messages: InboundMessage[] = [];
  maxConcurrentPerPartition = 0;
  private readonly active = new Map<string, number>();

  constructor(private readonly options: { delayMs?: number } = {}) {}

  readonly handler: BatchHandler = async (batch) => {
    const partitions = new Set(batch.map((m) => `${m.topic}/${m.partition}`));
    for (const p of partitions) {
      const now = (this.active.get(p) ?? 0) + 1;
      this.active.set(p, now);
      this.maxConcurrentPerPartition = Math.max(this.maxConcurrentPerPartition, now);
    }
    try {
      if (this.options.delayMs) await sleep(this.options.delayMs);
      this.batches.push(batch);
      this.messages.push(...batch);
    } finally {
      for (const p of partitions) this.active.set(p, (this.active.get(p) ?? 1) - 1);
    }
  };

  values(): string[] {
    return this.messages.map((m) => m.value.toString());
  }

  /** Each batch holds one partition, and offsets only grow within a partition. */
  assertBatchesInPartitionOrder(): void {
    const last = new Map<string, bigint>();
    for (const batch of this.batches) {
      assert.ok(batch.length > 0, 'empty batch');
      const p = `${batch[0]!.topic}/${batch[0]!.partition}`;
      for (const m of batch) {
        assert.equal(`${m.topic}/${m.partition}`, p, 'a batch mixes partitions');
        const offset = BigInt(m.offset);
        const previous = last.get(p);
        assert.ok(
          previous === undefined || offset > previous,
          `offset ${offset} after ${previous} in ${p}`,
        );
        last.set(p, offset);
      }
    }
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

export async function waitUntil(
  predicate: () => boolean,
  options: { timeoutMs?: number; what?: string; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${options.what ?? 'a condition'}`);
    await sleep(options.pollMs ?? 20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `perPartition` keys for every partition, so a test reaches all of them. */
function keysCoveringPartitions(partitions: number, perPartition: number): string[] {
  const counts = new Array<number>(partitions).fill(0);
  const keys: string[] = [];
  for (let n = 0; keys.length < partitions * perPartition; n++) {
    const key = `key-${n}`;
    const p = partitionForKey(key, partitions);
    if (counts[p]! < perPartition) {
      counts[p]! += 1;
      keys.push(key);
    }
  }
  return keys;
}
