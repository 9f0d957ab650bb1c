import { consentStatementsOf } from './consent-history.projection';
import { ConsentBodyError, consentStatementsFromBody, MAX_CONSENT_BATCH } from './consent-api';
import { isSmsOptOut, SMS_OPT_OUT_KEYWORDS } from './consent-statement';

const receivedAt = new Date('2026-05-01T10:00:00.000Z');
const read = (body: unknown) => consentStatementsFromBody(body, { sourceId: 'crm', receivedAt });
const pathsOf = (body: unknown) =>
  read(body).rejected.flatMap((r) => r.errors.map((e) => `${e.path}:${e.rule}`));

describe('the consent API (POST /v1/consent)', () => {
  it('reads one statement naming a customer by phone only, keyed by the phone', () => {
    const { events, rejected } = read({
      phone: '+442079460958',
      purpose: 'phone_marketing',
      granted: false,
      source: 'phone',
      note: 'asked on the call',
    });
    expect(rejected).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ streamId: 'phone:+442079460958', occurredAt: receivedAt });
    expect(events[0]!.data).toMatchObject({
      userId: null,
      email: null,
      phone: '+442079460958',
      purpose: 'phone_marketing',
      granted: false,
      source: 'phone',
      properties: {},
      timestamp: receivedAt,
    });
    expect(events[0]!.data.messageId).toBe(events[0]!.eventId);
  });

  it('keys by user id first, then email, phone, external id; a message id gives a stable event id', () => {
    const statement = { purpose: 'analytics', granted: true, source: 'admin', messageId: 'm-1' };
    const both = read({ ...statement, userId: 'ada', email: 'Ada@Example.com' }).events[0]!;
    expect(both.streamId).toBe('user:ada');
    expect(both.data.email).toBe('ada@example.com');
    expect(read({ ...statement, email: 'ada@example.com' }).events[0]!.streamId).toBe(
      'email:ada@example.com',
    );
    expect(read({ ...statement, externalId: 'c-1' }).events[0]!.streamId).toBe('ext:c-1');
    expect(read({ ...statement, userId: 'ada' }).events[0]!.eventId).toBe(both.eventId);
    expect(read({ ...statement, userId: 'ada', messageId: 'm-2' }).events[0]!.eventId).not.toBe(
      both.eventId,
    );
  });

  it('reads a batch item by item, errors naming each field as sent and never quoting a value', () => {
    const result = read({
      batch: [
        { email: 'ada@example.com', purpose: 'email_marketing', granted: false, source: 'import' },
        { email: 'not-an-address', purpose: 'email_marketing', granted: false, source: 'import' },
        { purpose: 'analytics', granted: true, source: 'admin' },
        { userId: 'u', purpose: 'analytics', granted: true, source: 'admin', when: 'x' },
        {
          userId: 'u',
          purpose: 'analytics',
          granted: true,
          source: 'admin',
          occurredAt: 'yesterday',
        },
        'STOP',
      ],
    });
    expect(result.events).toHaveLength(1);
    expect(result.rejected.map((r) => r.index)).toEqual([1, 2, 3, 4, 5]);
    expect(result.rejected.flatMap((r) => r.errors.map((e) => `${e.path}:${e.rule}`))).toEqual([
      'batch[1].email:type',
      'batch[2]:required',
      'batch[3].when:unknown-field',
      'batch[4].occurredAt:timestamp',
      'batch[5]:type',
    ]);
    expect(JSON.stringify(result.rejected.map((r) => r.errors))).not.toContain('not-an-address');
    expect(pathsOf({ userId: 'u', purpose: 'ads', granted: 'yes' })).toEqual([
      'purpose:enum',
      'granted:type',
      'source:required',
    ]);
    expect(
      pathsOf({
        userId: 'u',
        purpose: 'analytics',
        granted: true,
        source: 'admin',
        occurredAt: '2026-05-03T10:00:00Z',
      }),
    ).toEqual(['occurredAt:timestamp']);
  });

  it('refuses a body that is no statement and no batch, and a batch out of bounds', () => {
    for (const body of [null, [], 'STOP', { batch: [] }, { batch: {} }]) {
      expect(() => read(body)).toThrow(ConsentBodyError);
    }
    const many = Array.from({ length: MAX_CONSENT_BATCH + 1 }, () => ({}));
    expect(() => read({ batch: many })).toThrow(/batch must be an array of 1 to 1000/);
  });
});

describe('SMS opt-out keywords', () => {
  it('are the standard list, in any case, trimmed, alone', () => {
    expect(SMS_OPT_OUT_KEYWORDS).toEqual([
      'STOP',
      'STOPALL',
      'UNSUBSCRIBE',
      'CANCEL',
      'END',
      'QUIT',
    ]);
    for (const body of [
      'STOP',
      'stop',
      ' Stop \n',
      'STOPALL',
      'unsubscribe',
      'Cancel',
      'END',
      'quit',
    ])
      expect(isSmsOptOut(body)).toBe(true);
    for (const body of ['STOP!', 'please stop', 'stop it', 'STOPPED', 'end of day', '', null, 42])
      expect(isSmsOptOut(body)).toBe(false);
  });

  it('withdraw phone marketing in the consent history (source sms-stop); other texts say nothing', () => {
    const sms = (body: string) => ({ eventId: 'e-1', type: 'SmsReceived', data: { body } });
    expect(consentStatementsOf(sms(' stop '))).toEqual([
      {
        eventId: 'e-1',
        purpose: 'phone_marketing',
        granted: false,
        source: 'sms-stop',
        category: null,
        explicit: true,
      },
    ]);
    expect(consentStatementsOf(sms('Can you stop by at 5?'))).toEqual([]);
  });
});
