import fc from 'fast-check';
import {
  decodeEnvelopeOrThrow,
  decodeEventDataOrThrow,
  encodeEnvelope,
  encodeEventData,
  encodeValidatedEventData,
} from './codec';
import { ContractError, type ContractErrorCode } from './errors';
import { decodedEventDataToJson, eventDataToJson } from './json-mapping';
import { validateEventData } from './validation';
import { SCHEMA_REGISTRY } from './registry';
import { aUserIdentified, aWebEventTracked, aWebPageViewed, anEnvelope } from './testing';

function contractErrorOf(run: () => unknown): ContractError {
  try {
    run();
  } catch (error) {
    if (error instanceof ContractError) return error;
    throw new Error(`expected a ContractError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a ContractError, nothing was thrown');
}

function expectCode(run: () => unknown, code: ContractErrorCode): ContractError {
  const error = contractErrorOf(run);
  expect(error.code).toBe(code);
  return error;
}

describe('event data codec', () => {
  it.each([
    ['WebEventTracked', aWebEventTracked()],
    ['WebPageViewed', aWebPageViewed()],
    ['UserIdentified', aUserIdentified()],
  ] as const)('round-trips %s v1', (type, value) => {
    const bytes = encodeEventData(type, 1, value);
    expect(decodeEventDataOrThrow(bytes)).toEqual({ type, version: 1, value });
  });

  it('writes the single-object header: marker, then the fingerprint of the schema', () => {
    const bytes = encodeEventData('WebEventTracked', 1, aWebEventTracked());
    expect([...bytes.subarray(0, 2)]).toEqual([0xc3, 0x01]);
    expect(bytes.subarray(2, 10).toString('hex')).toBe(
      SCHEMA_REGISTRY.event('WebEventTracked', 1)!.fingerprintHex,
    );
  });

  it('fills omitted defaulted fields with their default', () => {
    const { sentAt: _sentAt, originalTimestamp: _original, ...partial } = aWebEventTracked();
    const decoded = decodeEventDataOrThrow(encodeEventData('WebEventTracked', 1, partial));
    expect(decoded.value).toMatchObject({ sentAt: null, originalTimestamp: null });
  });

  it('round-trips arbitrary valid track events', () => {
    const json = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
    const date = fc.date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true });
    fc.assert(
      fc.property(
        fc.record({
          messageId: fc.string({ minLength: 1 }),
          userId: fc.option(fc.string()),
          anonymousId: fc.option(fc.string()),
          event: fc.string(),
          properties: json,
          context: json,
          integrations: json,
          timestamp: date,
          sentAt: fc.option(date),
          originalTimestamp: fc.option(date),
        }),
        (value) => {
          // fc.jsonValue can produce -0, which JSON cannot carry: compare with what JSON keeps.
          const expected = { ...value, ...jsonNormalised(value) };
          const decoded = decodeEventDataOrThrow(encodeEventData('WebEventTracked', 1, value));
          expect(decoded.value).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses to encode an unknown event type or an invalid value', () => {
    expectCode(() => encodeEventData('NoSuchEvent', 1, {}), 'UNKNOWN_EVENT_TYPE');
    expectCode(
      () => encodeEventData('WebEventTracked', 99, aWebEventTracked()),
      'UNKNOWN_EVENT_TYPE',
    );
    const error = expectCode(
      () => encodeEventData('WebEventTracked', 1, { ...aWebEventTracked(), event: 42 }),
      'INVALID_VALUE',
    );
    expect(error.errors).toEqual([expect.objectContaining({ path: 'event', rule: 'type' })]);
  });
});

describe('envelope codec', () => {
  it('round-trips an envelope carrying encoded event data', () => {
    const data = encodeEventData('WebEventTracked', 1, aWebEventTracked());
    const envelope = anEnvelope({ data });
    const decoded = decodeEnvelopeOrThrow(encodeEnvelope(envelope));
    expect(decoded).toEqual(envelope);
    expect(decodeEventDataOrThrow(decoded.data).value).toEqual(aWebEventTracked());
  });

  it('round-trips a null correlation id and every channel', () => {
    for (const channel of ['web', 'email', 'phone', 'other'] as const) {
      const envelope = anEnvelope({ channel, correlationId: null });
      expect(decodeEnvelopeOrThrow(encodeEnvelope(envelope))).toEqual(envelope);
    }
  });

  it('copies the payload out of the message buffer', () => {
    const message = encodeEnvelope(anEnvelope());
    const decoded = decodeEnvelopeOrThrow(message);
    const before = Buffer.from(decoded.data);
    message.fill(0);
    expect(decoded.data).toEqual(before);
  });

  it('refuses an envelope that breaks its schema, naming the field', () => {
    const error = expectCode(
      () => encodeEnvelope({ ...anEnvelope(), channel: 'fax' as never }),
      'INVALID_VALUE',
    );
    expect(error.errors).toEqual([expect.objectContaining({ path: 'channel', rule: 'enum' })]);
  });
});

describe('bad input gives a ContractError, never another kind of error', () => {
  const envelope = encodeEnvelope(anEnvelope());
  const eventData = encodeEventData('WebEventTracked', 1, aWebEventTracked());

  it('empty and too short messages are truncated', () => {
    expectCode(() => decodeEnvelopeOrThrow(Buffer.alloc(0)), 'TRUNCATED_MESSAGE');
    expectCode(() => decodeEnvelopeOrThrow(Buffer.from([0xc3])), 'TRUNCATED_MESSAGE');
    expectCode(() => decodeEnvelopeOrThrow(envelope.subarray(0, 9)), 'TRUNCATED_MESSAGE');
  });

  it('a message cut anywhere inside its body is truncated or malformed', () => {
    for (let length = 10; length < envelope.length; length++) {
      const error = contractErrorOf(() => decodeEnvelopeOrThrow(envelope.subarray(0, length)));
      expect(['TRUNCATED_MESSAGE', 'MALFORMED_MESSAGE']).toContain(error.code);
    }
  });

  it('bytes without the marker are not single-object encoded', () => {
    expectCode(
      () => decodeEnvelopeOrThrow(Buffer.from('{"type":"track"}')),
      'NOT_SINGLE_OBJECT_ENCODED',
    );
    expectCode(
      () => decodeEventDataOrThrow(Buffer.from([0xc3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8])),
      'NOT_SINGLE_OBJECT_ENCODED',
    );
  });

  it('an unknown fingerprint is named in the error', () => {
    const unknown = Buffer.from([0xc3, 0x01, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0]);
    const error = expectCode(() => decodeEnvelopeOrThrow(unknown), 'UNKNOWN_SCHEMA_FINGERPRINT');
    expect(error.message).toContain('deadbeef00000000');
  });

  it('event data where an envelope belongs, and the reverse, is the wrong schema', () => {
    expectCode(() => decodeEnvelopeOrThrow(eventData), 'UNEXPECTED_SCHEMA');
    expectCode(() => decodeEventDataOrThrow(envelope), 'UNEXPECTED_SCHEMA');
  });

  it('trailing bytes are malformed', () => {
    expectCode(
      () => decodeEnvelopeOrThrow(Buffer.concat([envelope, Buffer.from([0])])),
      'MALFORMED_MESSAGE',
    );
  });

  it('an impossible value in the body is malformed', () => {
    // Channel enum index 9 does not exist: avsc alone would decode it as undefined.
    const bad = encodeEnvelope(anEnvelope({ type: 'x', schemaVersion: 1, eventId: 'e' }));
    const channelAt = 10 + 2 + 2 + 1; // header, "e", "x", schemaVersion
    expect(bad[channelAt]).toBe(0); // zig-zag 0 = web
    bad[channelAt] = 18; // zig-zag 9
    expectCode(() => decodeEnvelopeOrThrow(bad), 'MALFORMED_MESSAGE');
  });

  it('a json field that does not hold a JSON object is malformed', () => {
    const value = aWebEventTracked({ properties: { a: 1 } });
    const bytes = encodeEventData('WebEventTracked', 1, value);
    const text = Buffer.from('{"a":1}');
    const at = bytes.indexOf(text);
    expect(at).toBeGreaterThan(0);
    bytes.write('[1,2,3', at); // same length, still a string, not an object
    expectCode(() => decodeEventDataOrThrow(bytes), 'MALFORMED_MESSAGE');
    bytes.write('{"a":}', at); // not JSON at all
    expectCode(() => decodeEventDataOrThrow(bytes), 'MALFORMED_MESSAGE');
  });

  it('random bytes after a valid header never escape as another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (body, asEnvelope) => {
        const header = (asEnvelope ? envelope : eventData).subarray(0, 10);
        const message = Buffer.concat([header, body]);
        const decode = asEnvelope ? decodeEnvelopeOrThrow : decodeEventDataOrThrow;
        try {
          decode(message);
        } catch (error) {
          expect(error).toBeInstanceOf(ContractError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never escape as another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(() => decodeEventDataOrThrow(bytes)).toThrow(ContractError);
      }),
    );
  });
});

function jsonNormalised<T>(value: { properties: T; context: T; integrations: T }): {
  properties: T;
  context: T;
  integrations: T;
} {
  const copy = (v: T): T => JSON.parse(JSON.stringify(v)) as T;
  return {
    properties: copy(value.properties),
    context: copy(value.context),
    integrations: copy(value.integrations),
  };
}

describe('decodedEventDataToJson', () => {
  it('gives the same JSON as eventDataToJson for decoded data, without validating again', () => {
    const value = aWebEventTracked();
    const decoded = decodeEventDataOrThrow(encodeEventData('WebEventTracked', 1, value));
    expect(decodedEventDataToJson(decoded)).toEqual(eventDataToJson('WebEventTracked', 1, value));
  });
});

describe('encodeValidatedEventData', () => {
  it('encodes a validated value to the same bytes as encodeEventData', () => {
    const checked = validateEventData('WebEventTracked', 1, aWebEventTracked());
    if (!checked.ok) throw new Error('fixture should be valid');
    expect(encodeValidatedEventData('WebEventTracked', 1, checked.value)).toEqual(
      encodeEventData('WebEventTracked', 1, checked.value),
    );
  });
});
