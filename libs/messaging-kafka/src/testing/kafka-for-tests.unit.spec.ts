import { kafkaBrokersForTests, uniqueTopicName } from './kafka-for-tests';

describe('kafkaBrokersForTests', () => {
  const unreachable = { KAFKA_BROKERS: '127.0.0.1:2' };

  it('skips with the reason when the configured broker does not answer', async () => {
    const target = await kafkaBrokersForTests(unreachable);
    expect(target).toEqual({ skip: expect.stringContaining('127.0.0.1:2') as unknown });
  });

  it('throws instead when services are required', async () => {
    await expect(
      kafkaBrokersForTests({ ...unreachable, TOUCHLINE_REQUIRE_SERVICES: '1' }),
    ).rejects.toThrow(/Kafka is required/);
  });
});

describe('uniqueTopicName', () => {
  it('makes distinct names Kafka accepts', () => {
    const a = uniqueTopicName('touchline.test');
    expect(a).toMatch(/^touchline\.test\.[0-9a-f-]{36}$/);
    expect(uniqueTopicName('touchline.test')).not.toBe(a);
  });
});
