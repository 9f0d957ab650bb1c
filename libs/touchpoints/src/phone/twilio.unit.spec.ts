import { randomUUID } from 'node:crypto';

import {
  computeTwilioSignature,
  parseFormBody,
  receiveTwilioIncomingSms,
  receiveTwilioSmsStatus,
  receiveTwilioVoiceStatus,
  TouchpointError,
} from '../index';
import { catalogMismatches } from '../testing';

const now = new Date('2024-05-01T10:00:00Z');
const url = 'https://collector.example.com/webhooks/twilio/voice?source=main';
const authToken = randomUUID().replace(/-/g, '');

function signed(params: Record<string, string>, token = authToken, signedUrl = url) {
  const rawBody = new URLSearchParams(params).toString();
  return {
    url,
    rawBody,
    headers: {
      'X-Twilio-Signature': computeTwilioSignature(token, signedUrl, parseFormBody(rawBody)),
    },
  };
}

// Parameters as Twilio documents them for voice status callbacks.
function call(status: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: 'AC' + '0'.repeat(32),
    CallSid: 'CA' + randomUUID().replace(/-/g, ''),
    From: '+14155552671',
    To: '+442079460958',
    Caller: '+14155552671',
    Called: '+442079460958',
    CallStatus: status,
    Direction: 'inbound',
    ApiVersion: '2010-04-01',
    Timestamp: 'Wed, 01 May 2024 09:59:00 +0000',
    CallbackSource: 'call-progress-events',
    SequenceNumber: '0',
    ...extra,
  };
}

const context = () => ({ sourceId: randomUUID(), receivedAt: now });
const config = { authTokens: authToken };

describe('Twilio voice status callbacks', () => {
  it.each([
    ['initiated', {}, 'CallStarted'],
    ['ringing', {}, 'CallStarted'],
    ['in-progress', {}, 'CallAnswered'],
    ['completed', { CallDuration: '125', Duration: '3' }, 'CallEnded'],
    ['no-answer', {}, 'CallMissed'],
    ['busy', {}, 'CallMissed'],
    ['failed', {}, 'CallMissed'],
    ['canceled', {}, 'CallMissed'],
  ])('maps %s to %s', (status, extra, type) => {
    const result = receiveTwilioVoiceStatus(signed(call(status, extra)), config, context());
    expect(result.rejected).toEqual([]);
    const [event] = result.events;
    expect(event).toMatchObject({
      type,
      channel: 'phone',
      occurredAt: new Date('2024-05-01T09:59:00Z'),
      identifiers: { phone: '+14155552671' },
    });
    expect(event!.data).toMatchObject({
      provider: 'twilio',
      direction: 'inbound',
      from: '+14155552671',
      to: '+442079460958',
      customerPhone: '+14155552671',
    });
    if (event!.type === 'CallEnded') expect(event!.data.durationSeconds).toBe(125);
    if (event!.type === 'CallMissed') expect(event!.data.reason).toBe(status);
    expect(catalogMismatches(event!)).toEqual([]);
  });

  it('takes the customer from To on outbound calls, and null for a withheld number', () => {
    const outbound = receiveTwilioVoiceStatus(
      signed(call('ringing', { Direction: 'outbound-api' })),
      config,
      context(),
    );
    expect(outbound.events[0]?.data).toMatchObject({
      direction: 'outbound',
      customerPhone: '+442079460958',
    });
    const withheld = receiveTwilioVoiceStatus(
      signed(call('no-answer', { From: 'Anonymous' })),
      config,
      context(),
    );
    expect(withheld.events[0]?.data).toMatchObject({ from: null, customerPhone: null });
  });

  it('collapses initiated and ringing into one CallStarted id, and ended/missed into one terminal id', () => {
    const ctx = context();
    const base = call('initiated');
    const started = receiveTwilioVoiceStatus(signed(base), config, ctx).events[0];
    const ringing = receiveTwilioVoiceStatus(
      signed({ ...base, CallStatus: 'ringing', SequenceNumber: '1' }),
      config,
      ctx,
    ).events[0];
    expect(ringing?.eventId).toBe(started?.eventId);
    const answered = receiveTwilioVoiceStatus(
      signed({ ...base, CallStatus: 'in-progress' }),
      config,
      ctx,
    ).events[0];
    expect(answered?.eventId).not.toBe(started?.eventId);
  });

  it('ignores child legs by default and queued calls, with a reason', () => {
    const child = receiveTwilioVoiceStatus(
      signed(call('ringing', { ParentCallSid: 'CA123', Direction: 'outbound-dial' })),
      config,
      context(),
    );
    expect(child.ignored[0]?.reason).toContain('child leg');
    expect(
      receiveTwilioVoiceStatus(
        signed(call('ringing', { ParentCallSid: 'CA123' })),
        { ...config, childLegs: 'map' },
        context(),
      ).events,
    ).toHaveLength(1);
    expect(
      receiveTwilioVoiceStatus(signed(call('queued')), config, context()).ignored,
    ).toHaveLength(1);
  });

  it('uses the receive time when Twilio sends no Timestamp, and rejects a completed call without duration', () => {
    const { Timestamp: _t, ...noTime } = call('in-progress');
    expect(
      receiveTwilioVoiceStatus(signed(noTime), config, context()).events[0]?.occurredAt,
    ).toEqual(now);
    const noDuration = receiveTwilioVoiceStatus(signed(call('completed')), config, context());
    expect(noDuration.rejected[0]?.errors).toEqual([
      expect.objectContaining({ path: 'CallDuration', rule: 'required' }),
    ]);
    const badStatus = receiveTwilioVoiceStatus(signed(call('exploded')), config, context());
    expect(badStatus.rejected[0]?.errors).toEqual([
      expect.objectContaining({ path: 'CallStatus', rule: 'enum' }),
    ]);
  });

  it('refuses a missing or wrong signature, a tampered parameter, another URL or token', () => {
    const code = (
      req: { url: string; rawBody: string; headers: Record<string, string> },
      tokens: string | string[] = authToken,
    ): string => {
      try {
        receiveTwilioVoiceStatus(req, { authTokens: tokens }, context());
        return 'accepted';
      } catch (error: unknown) {
        if (error instanceof TouchpointError) return error.code;
        throw error;
      }
    };
    const good = signed(call('completed', { CallDuration: '5' }));
    expect(code(good)).toBe('accepted');
    expect(code({ ...good, headers: {} })).toBe('MISSING_SIGNATURE');
    expect(
      code({ ...good, rawBody: good.rawBody.replace('CallDuration=5', 'CallDuration=5000') }),
    ).toBe('INVALID_SIGNATURE');
    expect(code({ ...good, rawBody: `${good.rawBody}&Extra=1` })).toBe('INVALID_SIGNATURE');
    expect(
      code({ ...good, url: 'https://collector.example.com/webhooks/twilio/voice?source=other' }),
    ).toBe('INVALID_SIGNATURE');
    expect(code(good, randomUUID())).toBe('INVALID_SIGNATURE');
    expect(code(good, [randomUUID(), authToken])).toBe('accepted');
    // Signed with the explicit default port, verified against the URL without it.
    expect(
      code(
        signed(
          call('busy'),
          authToken,
          'https://collector.example.com:443/webhooks/twilio/voice?source=main',
        ),
      ),
    ).toBe('accepted');
  });
});

describe('Twilio SMS', () => {
  it('maps an incoming message to SmsReceived', () => {
    const params = {
      MessageSid: 'SM' + randomUUID().replace(/-/g, ''),
      AccountSid: 'AC1',
      From: '+14155552671',
      To: '+442079460958',
      Body: 'Is my order shipped?',
      NumMedia: '0',
    };
    const [event] = receiveTwilioIncomingSms(signed(params), config, context()).events;
    expect(event).toMatchObject({
      type: 'SmsReceived',
      occurredAt: now,
      identifiers: { phone: '+14155552671' },
    });
    expect(event!.data).toMatchObject({
      body: 'Is my order shipped?',
      mediaCount: 0,
      customerPhone: '+14155552671',
    });
    expect(catalogMismatches(event!)).toEqual([]);
  });

  it.each([
    ['sent', 'SmsSent'],
    ['delivered', 'SmsDelivered'],
    ['undelivered', 'SmsFailed'],
    ['failed', 'SmsFailed'],
  ])('maps outbound status %s to %s', (status, type) => {
    const params = {
      MessageSid: 'SM' + randomUUID().replace(/-/g, ''),
      MessageStatus: status,
      From: '+442079460958',
      To: '+14155552671',
      ErrorCode: status === 'failed' ? '30008' : '',
    };
    const [event] = receiveTwilioSmsStatus(signed(params), config, context()).events;
    expect(event).toMatchObject({ type, identifiers: { phone: '+14155552671' } });
    expect(catalogMismatches(event!)).toEqual([]);
    if (event!.type === 'SmsFailed' && status === 'failed')
      expect(event!.data.errorCode).toBe('30008');
  });

  it('ignores intermediate statuses', () => {
    const params = {
      MessageSid: 'SM1',
      MessageStatus: 'queued',
      From: '+442079460958',
      To: '+14155552671',
    };
    expect(receiveTwilioSmsStatus(signed(params), config, context()).ignored).toHaveLength(1);
  });
});
