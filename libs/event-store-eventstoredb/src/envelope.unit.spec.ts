import type { NewEvent } from '@touchline/event-store';
import { readStoredMetadata, toEsdbEvent } from './envelope';
import { esdbEventId } from './stable-uuid';

const event: NewEvent = {
  eventId: 'msg-42',
  type: 'EmailOpened',
  schemaVersion: 3,
  data: { campaign: 'spring', nested: { ok: true } },
  metadata: { correlationId: 'c-1', causationId: 'k-1', sourceTopic: 'email', sourcePartition: 2 },
};

describe('event envelope', () => {
  it('stores our id, schema version, append id and offset beside the metadata', () => {
    const stored = toEsdbEvent(event, 'append-1', 2);
    expect(stored).toMatchObject({
      id: esdbEventId('msg-42'),
      type: 'EmailOpened',
      contentType: 'application/json',
      data: event.data,
      metadata: {
        touchline: { eventId: 'msg-42', schemaVersion: 3, appendId: 'append-1', offset: 2 },
        metadata: event.metadata,
        $correlationId: 'c-1',
        $causationId: 'k-1',
      },
    });
    expect(readStoredMetadata(stored.metadata)).toEqual({
      touchline: { eventId: 'msg-42', schemaVersion: 3, appendId: 'append-1', offset: 2 },
      metadata: event.metadata,
    });
  });

  it('an event without metadata reads back with {}', () => {
    const stored = toEsdbEvent({ ...event, metadata: undefined }, 'a', 0);
    expect(stored.metadata).not.toHaveProperty('$correlationId');
    expect(readStoredMetadata(stored.metadata)?.metadata).toEqual({});
  });

  it.each([
    ['no metadata', undefined],
    ['binary metadata', new Uint8Array([1, 2])],
    ['another writer', { $correlationId: 'x' }],
    [
      'marks of the wrong type',
      { touchline: { eventId: 1, schemaVersion: 1, appendId: 'a', offset: 0 } },
    ],
    ['marks without offset', { touchline: { eventId: 'e', schemaVersion: 1, appendId: 'a' } }],
  ])('events the adapter did not write are not ours: %s', (_, metadata) => {
    expect(readStoredMetadata(metadata)).toBeUndefined();
  });
});
