import { ContractError } from './errors';
import { eventDataFromJson, eventDataToJson } from './json-mapping';
import { aUserIdentified, aWebEventTracked, aWebPageViewed } from './testing';

describe('event data as JSON (event store JSONB)', () => {
  it('writes Dates as ISO strings and json fields as objects', () => {
    const json = eventDataToJson('WebEventTracked', 1, aWebEventTracked({ sentAt: null }));
    expect(json).toEqual({
      ...aWebEventTracked(),
      timestamp: '2024-05-01T10:00:00.123Z',
      sentAt: null,
      originalTimestamp: '2024-05-01T09:59:58.500Z',
    });
  });

  it.each([
    ['WebEventTracked', aWebEventTracked()],
    ['WebPageViewed', aWebPageViewed()],
    ['UserIdentified', aUserIdentified()],
  ] as const)('round-trips %s exactly, through JSON text as a database would', (type, value) => {
    const stored: unknown = JSON.parse(JSON.stringify(eventDataToJson(type, 1, value)));
    expect(eventDataFromJson(type, 1, stored)).toEqual(value);
  });

  it('refuses JSON that does not fit the schema, naming the field', () => {
    const json = eventDataToJson('WebEventTracked', 1, aWebEventTracked());
    let caught: unknown;
    try {
      eventDataFromJson('WebEventTracked', 1, { ...json, timestamp: 'yesterday', extra: 1 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ContractError);
    expect((caught as ContractError).code).toBe('INVALID_VALUE');
    expect((caught as ContractError).errors.map((e) => [e.path, e.rule])).toEqual([
      ['timestamp', 'timestamp'],
      ['extra', 'unknown-field'],
    ]);
  });

  it('refuses an unknown type and an invalid value with a ContractError', () => {
    expect(() => eventDataToJson('NoSuchEvent', 1, {})).toThrow(ContractError);
    expect(() => eventDataToJson('WebEventTracked', 1, { event: 'x' })).toThrow(ContractError);
    expect(() => eventDataFromJson('WebEventTracked', 1, 'not an object')).toThrow(ContractError);
  });
});
