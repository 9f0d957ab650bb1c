import { randomUUID } from 'node:crypto';

import fc from 'fast-check';

import {
  InMemorySeenTokenStore,
  mapContactCentreEvents,
  mapMailgunEvent,
  mapOtherContacts,
  mapPostmarkEvent,
  mapSendGridEvents,
  mapSesEvent,
  mapTwilioIncomingSms,
  mapTwilioSmsStatus,
  mapTwilioVoiceStatus,
  receiveMailgunWebhook,
  receiveSendGridWebhook,
  receiveSesWebhook,
  TOUCHPOINT_EVENT_CATALOG,
  TOUCHPOINT_EVENT_TYPES,
  TouchpointError,
  verifyTrackedLinkOrThrow,
  type MappingResult,
} from './index';
import { catalogMismatches, createSendGridTestKeys } from './testing';

const context = { sourceId: randomUUID(), receivedAt: new Date('2024-05-01T10:00:00Z') };
const mappers: readonly [string, (body: unknown) => MappingResult][] = [
  ['sendgrid', (b) => mapSendGridEvents(b, context)],
  ['mailgun', (b) => mapMailgunEvent(b, context)],
  ['ses', (b) => mapSesEvent(b, context)],
  ['postmark', (b) => mapPostmarkEvent(b, context)],
  ['twilio voice', (b) => mapTwilioVoiceStatus(b, context)],
  ['twilio sms in', (b) => mapTwilioIncomingSms(b, context)],
  ['twilio sms status', (b) => mapTwilioSmsStatus(b, context)],
  ['contact centre', (b) => mapContactCentreEvents(b, context)],
  ['other contacts', (b) => mapOtherContacts(b, context)],
];

// Values shaped like the real payloads, so mutations reach past the first field checks.
const fieldNames = [
  'event',
  'email',
  'timestamp',
  'sg_event_id',
  'url',
  'type',
  'id',
  'recipient',
  'severity',
  'reason',
  'eventType',
  'mail',
  'messageId',
  'destination',
  'bounce',
  'bounceType',
  'bouncedRecipients',
  'emailAddress',
  'feedbackId',
  'RecordType',
  'Recipient',
  'Email',
  'ID',
  'Type',
  'MessageID',
  'DeliveredAt',
  'BouncedAt',
  'ReceivedAt',
  'OriginalLink',
  'CallSid',
  'CallStatus',
  'Direction',
  'From',
  'To',
  'CallDuration',
  'MessageSid',
  'MessageStatus',
  'Body',
  'callId',
  'occurredAt',
  'direction',
  'customer',
  'events',
  'contacts',
  'storeId',
  'ticketId',
  'outcome',
  'durationSeconds',
  'delivery',
  'recipients',
];
const leaf = fc.oneof(
  fc.constantFrom(
    'delivered',
    'bounce',
    'open',
    'click',
    'processed',
    'failed',
    'permanent',
    'Bounce',
    'Delivery',
    'Open',
    'Click',
    'Permanent',
    'HardBounce',
    'completed',
    'no-answer',
    'inbound',
    'call.ended',
    'store.visit',
    'support.ticket.resolved',
    'a@b.co',
    '+14155552671',
    '2024-05-01T09:00:00Z',
    '1714550000',
    'https://example.com/',
  ),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const payload = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('object'), tie('array')),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), fc.string()), tie('value'), {
    maxKeys: 8,
  }),
  array: fc.array(tie('value'), { maxLength: 4 }),
})).value;

describe('bad input', () => {
  it('never makes a mapper throw, and accounts for every event it emits against the catalogue', () => {
    fc.assert(
      fc.property(payload, (body) => {
        for (const [, map] of mappers) {
          const result = map(body);
          for (const event of result.events) expect(catalogMismatches(event)).toEqual([]);
          for (const rejected of result.rejected) expect(rejected.errors.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('throws only TouchpointError from verification, whatever the request', async () => {
    const keys = createSendGridTestKeys();
    const sns = {
      topicArns: ['arn:aws:sns:eu-west-1:123456789012:t'],
      fetchCertificate: () => Promise.reject(new Error('must not be called')),
    };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          payload.map((p) => JSON.stringify(p) ?? ''),
        ),
        fc.dictionary(fc.string(), fc.string()),
        async (rawBody, headers) => {
          const attempts: (() => unknown)[] = [
            () =>
              receiveSendGridWebhook(
                { rawBody, headers },
                { publicKeys: keys.publicKeyBase64 },
                context,
              ),
            () =>
              receiveMailgunWebhook(
                { rawBody },
                {
                  signingKeys: 'k',
                  seenTokens: new InMemorySeenTokenStore(() => context.receivedAt),
                },
                context,
              ),
            () => receiveSesWebhook({ rawBody }, sns, context),
            () => verifyTrackedLinkOrThrow(headers, 'secret'),
          ];
          for (const attempt of attempts) {
            try {
              await attempt();
            } catch (error: unknown) {
              expect(error).toBeInstanceOf(TouchpointError);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('has a catalogue entry for every event type, with unique field names', () => {
    expect(Object.keys(TOUCHPOINT_EVENT_CATALOG).sort()).toEqual(
      [...TOUCHPOINT_EVENT_TYPES].sort(),
    );
    for (const type of TOUCHPOINT_EVENT_TYPES) {
      const names = TOUCHPOINT_EVENT_CATALOG[type].map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});
