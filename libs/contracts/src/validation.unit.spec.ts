import { CHANNELS } from './channel';
import { EVENT_CATALOG, SCHEMA_SOURCES } from './generated/schemas';
import { aUserIdentified, aWebEventTracked } from './testing';
import { validateEventData } from './validation';

describe('validateEventData', () => {
  it('accepts a valid value and hands it back typed, defaults filled in', () => {
    const { sentAt: _omitted, ...value } = aWebEventTracked();
    const result = validateEventData('WebEventTracked', 1, value);
    expect(result).toEqual({ ok: true, value: { ...value, sentAt: null } });
    if (result.ok) expect(result.value.event).toBe('Order Completed');
  });

  it('names the field and the rule of every failure', () => {
    const result = validateEventData('WebEventTracked', 1, {
      ...aWebEventTracked(),
      event: undefined,
      userId: 42,
      timestamp: '2024-05-01T10:00:00Z',
      properties: ['not', 'an', 'object'],
      referrer: 'https://example.com',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map(({ path, rule }) => ({ path, rule }))).toEqual([
      { path: 'userId', rule: 'type' },
      { path: 'event', rule: 'required' },
      { path: 'properties', rule: 'json-object' },
      { path: 'timestamp', rule: 'timestamp' },
      { path: 'referrer', rule: 'unknown-field' },
    ]);
    for (const error of result.errors) expect(error.message).toContain(error.path);
    expect(result.errors[0]!.message).toBe('userId must be null or a string, got a number');
  });

  it.each([
    ['a string', 'hello'],
    ['null', null],
    ['an array', []],
    ['a Date', new Date()],
    ['a class instance', new Map()],
    ['an object with a Date inside', { at: new Date() }],
    ['an object with undefined inside', { a: undefined }],
    ['an object with NaN inside', { n: Number.NaN }],
    ['an object with a bigint inside', { n: 1n }],
  ])('rejects %s where a JSON object is required', (_what, properties) => {
    const result = validateEventData('WebEventTracked', 1, { ...aWebEventTracked(), properties });
    expect(result).toEqual({
      ok: false,
      errors: [expect.objectContaining({ path: 'properties', rule: 'json-object' })],
    });
  });

  it('rejects an invalid Date and a non-object value', () => {
    const invalid = validateEventData('WebEventTracked', 1, {
      ...aWebEventTracked(),
      timestamp: new Date(Number.NaN),
    });
    expect(invalid).toEqual({
      ok: false,
      errors: [expect.objectContaining({ path: 'timestamp', rule: 'timestamp' })],
    });
    const notObject = validateEventData('UserIdentified', 1, 'identify');
    expect(notObject).toEqual({
      ok: false,
      errors: [expect.objectContaining({ path: '(value)', rule: 'type' })],
    });
  });

  it('answers an unknown type or version with an error result, not a throw', () => {
    expect(validateEventData('NoSuchEvent', 1, {})).toEqual({
      ok: false,
      errors: [expect.objectContaining({ path: '(event)', rule: 'unknown-event-type' })],
    });
    expect(validateEventData('UserIdentified', 2, aUserIdentified())).toMatchObject({ ok: false });
  });

  it('never puts the value itself in a message (it may be personal data)', () => {
    const result = validateEventData('UserIdentified', 1, {
      ...aUserIdentified(),
      userId: { email: 'ada@example.com' },
    });
    expect(JSON.stringify(result)).not.toContain('ada@example.com');
  });
});

describe('catalog', () => {
  it('lists every event type and version with its channel and personal-data fields', () => {
    expect(EVENT_CATALOG.map((e) => `${e.type}.v${e.version}@${e.channel}`)).toEqual([
      'CallAnswered.v1@phone',
      'CallEnded.v1@phone',
      'CallMissed.v1@phone',
      'CallStarted.v1@phone',
      'ConsentChanged.v1@other',
      'EmailBounced.v1@email',
      'EmailDeferred.v1@email',
      'EmailDelivered.v1@email',
      'EmailDropped.v1@email',
      'EmailLinkClicked.v1@email',
      'EmailMarkedAsSpam.v1@email',
      'EmailOpened.v1@email',
      'EmailSent.v1@email',
      'EmailUnsubscribed.v1@email',
      'GroupIdentified.v1@web',
      'MeetingHeld.v1@other',
      'OrderCompleted.v1@web',
      'OrderRefunded.v1@web',
      'ProductAdded.v1@web',
      'ProductViewed.v1@web',
      'ScreenViewed.v1@web',
      'SmsDelivered.v1@phone',
      'SmsFailed.v1@phone',
      'SmsReceived.v1@phone',
      'SmsSent.v1@phone',
      'StoreVisited.v1@other',
      'SupportTicketOpened.v1@other',
      'SupportTicketResolved.v1@other',
      'UserAliased.v1@web',
      'UserIdentified.v1@web',
      'VoicemailLeft.v1@phone',
      'WebEventTracked.v1@web',
      'WebPageViewed.v1@web',
    ]);
    const tracked = EVENT_CATALOG.find((e) => e.type === 'WebEventTracked')!;
    expect(tracked.piiFields).toEqual(['context.ip', 'context.userAgent', 'context.traits']);
    expect(EVENT_CATALOG.find((e) => e.type === 'UserIdentified')!.piiFields).toContain('traits');
  });

  it('knows the same channels as the envelope schema', () => {
    const envelope = SCHEMA_SOURCES.find((s) => s.kind === 'envelope')!;
    const fields = envelope.schema['fields'] as { name: string; type: { symbols?: string[] } }[];
    expect(fields.find((f) => f.name === 'channel')!.type.symbols).toEqual([...CHANNELS]);
  });
});
