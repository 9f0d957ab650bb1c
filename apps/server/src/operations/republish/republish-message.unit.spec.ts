import {
  decodedEventDataToJson,
  decodeEnvelopeOrThrow,
  decodeEventDataOrThrow,
  eventDataToJson,
} from '@touchline/contracts';
import { aUserIdentified, aWebEventTracked } from '@touchline/contracts/testing';
import type { RecordedEvent } from '@touchline/event-store';
import { personalFieldsOf } from '../../privacy/crypto/encrypting-event-store';
import { newDataKey, openValue, sealFields, sealValue } from '../../privacy/crypto/field-cipher';
import {
  GLOBAL_POSITION_HEADER,
  REPUBLISH_JOB_HEADER,
  republishMessage,
  SEALED_STREAM_HEADER,
  UnpublishableEventError,
} from './republish-message';

function storedEvent(overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    eventId: 'evt-1',
    type: 'WebEventTracked',
    schemaVersion: 1,
    data: eventDataToJson('WebEventTracked', 1, aWebEventTracked({ userId: 'u-7' })),
    metadata: {
      channel: 'web',
      occurredAt: '2024-05-01T10:00:00.123Z',
      receivedAt: '2024-05-01T10:00:01.500Z',
      sourceId: 'site-1',
      correlationId: 'corr-1',
      sourceTopic: 'touchline.web.v1',
      sourcePartition: 2,
      sourceOffset: '41',
    },
    streamId: 'user:u-7',
    streamVersion: 3,
    globalPosition: 1234n,
    transactionId: 777n,
    recordedAt: new Date('2024-05-01T10:00:02Z'),
    ...overrides,
  };
}

describe('republishMessage', () => {
  it('is the collector envelope again, keyed by the stream, on the job topic, marked as a republish', () => {
    const event = storedEvent();
    const message = republishMessage('job-1', 'crm.history.v1', event);
    expect(message.topic).toBe('crm.history.v1');
    expect(message.key).toBe('user:u-7');
    expect(message.headers).toEqual({
      'content-type': 'application/avro',
      'touchline-event-type': 'WebEventTracked.v1',
      [REPUBLISH_JOB_HEADER]: 'job-1',
      [GLOBAL_POSITION_HEADER]: '1234',
    });
    const envelope = decodeEnvelopeOrThrow(message.value);
    expect(envelope).toMatchObject({
      eventId: 'evt-1',
      type: 'WebEventTracked',
      schemaVersion: 1,
      channel: 'web',
      streamId: 'user:u-7',
      occurredAt: new Date('2024-05-01T10:00:00.123Z'),
      receivedAt: new Date('2024-05-01T10:00:01.500Z'),
      sourceId: 'site-1',
      correlationId: 'corr-1',
    });
    // What the recorder would store from it is what was stored.
    expect(decodedEventDataToJson(decodeEventDataOrThrow(envelope.data))).toEqual(event.data);
  });

  it('publishes the sealed form as stored: pseudonym key, sealed fields and stream id, nothing in the clear', () => {
    const key = newDataKey();
    const plain = eventDataToJson(
      'UserIdentified',
      1,
      aUserIdentified({ userId: 'ada-7', traits: { email: 'ada@example.com', plan: 'pro' } }),
    );
    const event = storedEvent({
      type: 'UserIdentified',
      streamId: 'p:pseudonym',
      data: sealFields(plain, personalFieldsOf('UserIdentified', 1), key, 'evt-1'),
      metadata: {
        ...storedEvent().metadata,
        sealedStreamId: sealValue('user:ada-7', key, 'evt-1'),
      },
    });
    const message = republishMessage('job-1', 't', event);
    expect(message.key).toBe('p:pseudonym');
    const bytes = Buffer.concat([message.value, Buffer.from(JSON.stringify(message.headers))]);
    expect(bytes.toString('latin1')).not.toMatch(/ada-7|ada@example\.com/);
    const data = decodedEventDataToJson(
      decodeEventDataOrThrow(decodeEnvelopeOrThrow(message.value).data),
    );
    // A JSON-object field travels sealed inside {"sealed": ...}; the key opens everything.
    const traits = data['traits'] as { sealed: string };
    expect(openValue(traits.sealed, key, 'evt-1')).toEqual(plain['traits']);
    expect(openValue(data['userId'] as string, key, 'evt-1')).toBe('ada-7');
    expect(openValue(message.headers![SEALED_STREAM_HEADER]!, key, 'evt-1')).toBe('user:ada-7');
    // Without the key (destroyed by an erasure) nothing opens.
    expect(openValue(traits.sealed, newDataKey(), 'evt-1')).toBeNull();
  });

  it('keeps a missing correlation id as null', () => {
    const { correlationId: _dropped, ...metadata } = storedEvent().metadata;
    const message = republishMessage('job-1', 't', storedEvent({ metadata }));
    expect(decodeEnvelopeOrThrow(message.value).correlationId).toBeNull();
  });

  it('refuses, naming the position, an event without envelope metadata or with data off its schema', () => {
    expect(() => republishMessage('j', 't', storedEvent({ metadata: {} }))).toThrow(
      UnpublishableEventError,
    );
    expect(() => republishMessage('j', 't', storedEvent({ data: { nonsense: true } }))).toThrow(
      /position 1234/,
    );
  });
});
