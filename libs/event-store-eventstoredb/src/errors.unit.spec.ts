import {
  DeadlineExceededError,
  EventStoreDBClient,
  NotLeaderError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  jsonEvent,
} from '@eventstore/db-client';
import {
  EventStoreUnavailableError,
  InvalidAppendError,
  WrongExpectedVersionError,
} from '@touchline/event-store';
import {
  isStreamNotFound,
  isUnavailable,
  isWrongExpectedVersion,
  toEventStoreError,
  toWrongExpectedVersionError,
} from './errors';

// Port 1 on localhost refuses connections: the client's real failure, no server needed.
const unreachable = 'esdb://127.0.0.1:1?tls=false';

describe('error classification', () => {
  it("maps the client's version conflict to ours, with the actual version (-1 = no stream)", () => {
    const conflict = new EsdbWrongExpectedVersionError(undefined, {
      streamName: 's-1',
      expected: 0n,
      current: 2n,
    });
    expect(isWrongExpectedVersion(conflict)).toBe(true);
    const ours = toWrongExpectedVersionError(conflict, 's-1', 0);
    expect(ours).toBeInstanceOf(WrongExpectedVersionError);
    expect(ours).toMatchObject({
      code: 'WRONG_EXPECTED_VERSION',
      streamId: 's-1',
      expected: 0,
      actual: 2,
    });

    const missing = new EsdbWrongExpectedVersionError(undefined, {
      streamName: 's-2',
      expected: 'stream_exists',
      current: 'no_stream',
    });
    expect(toWrongExpectedVersionError(missing, 's-2', 'stream_exists')).toMatchObject({
      expected: 'stream_exists',
      actual: -1,
    });
  });

  it('recognises a missing stream and nothing else as one', () => {
    expect(isStreamNotFound(new StreamNotFoundError(undefined, 'gone'))).toBe(true);
    expect(isStreamNotFound(new UnavailableError(undefined, 'down'))).toBe(false);
    expect(isWrongExpectedVersion(new StreamNotFoundError(undefined, 'gone'))).toBe(false);
  });

  it.each([
    ['unavailable', new UnavailableError(undefined, 'down')],
    ['deadline exceeded', new DeadlineExceededError(undefined, 'slow')],
  ])('%s becomes EventStoreUnavailableError, keeping the cause', (_, error) => {
    expect(isUnavailable(error)).toBe(true);
    const mapped = toEventStoreError(error);
    expect(mapped).toBeInstanceOf(EventStoreUnavailableError);
    expect(mapped).toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE', cause: error });
  });

  it('typed errors and unrelated errors pass through unchanged', () => {
    const typed = new InvalidAppendError('bad');
    const other = new Error('boom');
    const conflict = new EsdbWrongExpectedVersionError(undefined, {
      streamName: 's',
      expected: 0n,
      current: 1n,
    });
    expect(toEventStoreError(typed)).toBe(typed);
    expect(toEventStoreError(other)).toBe(other);
    expect(toEventStoreError(conflict)).toBe(conflict);
    expect(isUnavailable(other)).toBe(false);
    expect(isUnavailable(undefined)).toBe(false);
  });

  it('a leader change is retryable, like an outage', () => {
    // NotLeaderError reads the new leader from the gRPC error's metadata.
    const metadata = {
      getMap: () => ({ 'leader-endpoint-host': 'h', 'leader-endpoint-port': '2113' }),
    };
    const error = new NotLeaderError({ code: 5, details: '', metadata } as never);
    expect(isUnavailable(error)).toBe(true);
  });

  describe('against a refused connection (the real client)', () => {
    let client: EventStoreDBClient;
    beforeAll(() => {
      client = EventStoreDBClient.connectionString(unreachable);
    });
    afterAll(async () => {
      await client.dispose();
    });

    it('a read fails with the typed UnavailableError', async () => {
      const error = await readAllError(client);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(toEventStoreError(error)).toBeInstanceOf(EventStoreUnavailableError);
    });

    it('an append fails with a raw gRPC error that is still classified as unavailable', async () => {
      const error: unknown = await client
        .appendToStream('s', jsonEvent({ type: 'T', data: {} }))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeDefined();
      expect(isUnavailable(error)).toBe(true);
      expect(toEventStoreError(error)).toBeInstanceOf(EventStoreUnavailableError);
    });
  });
});

async function readAllError(client: EventStoreDBClient): Promise<unknown> {
  try {
    for await (const _ of client.readAll({ maxCount: 1 })) {
      // no events can arrive
    }
  } catch (error) {
    return error;
  }
  throw new Error('expected the read to fail');
}
