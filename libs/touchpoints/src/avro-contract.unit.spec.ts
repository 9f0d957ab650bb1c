import { randomUUID } from 'node:crypto';

import {
  decodeEventDataOrThrow,
  encodeEventData,
  EVENT_CATALOG,
  eventDataFromJson,
  eventDataToJson,
  SCHEMA_REGISTRY,
  validateEventData,
  type EventDataByType,
} from '@touchline/contracts';

import {
  mapContactCentreEvents,
  mapOtherContacts,
  mapSendGridEvents,
  mapTwilioIncomingSms,
  mapTwilioSmsStatus,
  mapTwilioVoiceStatus,
  openPixelOpenedEvent,
  signOpenPixel,
  signTrackedLink,
  TOUCHPOINT_CHANNEL_OF,
  TOUCHPOINT_EVENT_CATALOG,
  TOUCHPOINT_EVENT_TYPES,
  trackedLinkClickedEvent,
  verifyOpenPixelOrThrow,
  verifyTrackedLinkOrThrow,
  type CatalogField,
  type CatalogFieldType,
  type MappingResult,
  type TouchpointEvent,
  type TouchpointEventDataMap,
  type TouchpointEventType,
} from './index';
import { catalogMismatches } from './testing';

// The Avro schemas in schemas/ are the contract the collector publishes touchpoints with: this
// proves they say what TOUCHPOINT_EVENT_CATALOG says, and that what the mappers really produce
// is valid under them and survives the Avro and JSON round trips unchanged.

// Compile-time: each event's data type is exactly the generated schema type.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameTypes: {
  [T in TouchpointEventType]: Same<TouchpointEventDataMap[T], EventDataByType[T][1]>;
} = {
  EmailSent: true,
  EmailDelivered: true,
  EmailOpened: true,
  EmailLinkClicked: true,
  EmailBounced: true,
  EmailMarkedAsSpam: true,
  EmailUnsubscribed: true,
  EmailDeferred: true,
  EmailDropped: true,
  CallStarted: true,
  CallAnswered: true,
  CallEnded: true,
  CallMissed: true,
  VoicemailLeft: true,
  SmsReceived: true,
  SmsSent: true,
  SmsDelivered: true,
  SmsFailed: true,
  StoreVisited: true,
  MeetingHeld: true,
  SupportTicketOpened: true,
  SupportTicketResolved: true,
};

interface SchemaField {
  readonly name: string;
  readonly type: unknown;
  readonly default?: unknown;
  readonly pii?: unknown;
  readonly doc?: string;
}

/** What the catalogue's field type is as Avro, in the form our schemas write it. */
function avroTypeOf(type: CatalogFieldType): unknown {
  if (typeof type === 'object') return { type: 'string', allowed: type.enum };
  switch (type) {
    case 'string':
    case 'int':
    case 'boolean':
      return type;
    case 'timestamp-millis':
      return { type: 'long', logicalType: 'timestamp-millis' };
    case 'array<string>':
      return { type: 'array', items: 'string' };
  }
}

function expectedField(field: CatalogField): SchemaField {
  const type = avroTypeOf(field.type);
  return {
    name: field.name,
    type: field.nullable ? ['null', type] : type,
    ...(field.nullable ? { default: null } : {}),
    ...(field.personal ? { pii: true } : {}),
    doc: field.doc,
  };
}

// ---- real events, from provider payloads through the library's mappers ----------------------

const context = () => ({ sourceId: randomUUID(), receivedAt: new Date('2024-05-01T10:00:00Z') });
const unix = Math.floor(Date.parse('2024-05-01T09:59:00Z') / 1000);

function sendGridEvents(): MappingResult {
  const base = {
    email: ' Recipient@Example.com',
    timestamp: unix,
    category: ['spring', 'promo'],
    campaign_id: 'c-42',
    sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
  };
  const item = (event: string, extra: Record<string, unknown> = {}) => ({
    ...base,
    sg_event_id: `sg-${randomUUID()}`,
    event,
    ...extra,
  });
  return mapSendGridEvents(
    [
      item('processed'),
      item('delivered', { response: '250 OK' }),
      item('open', { useragent: 'Mozilla/4.0', ip: '192.0.2.1', sg_machine_open: true }),
      item('open'),
      item('click', { url: 'https://example.com/offer?u=1', useragent: 'Mozilla/4.0' }),
      item('bounce', { type: 'bounce', reason: '550 no such user' }),
      item('bounce', { type: 'blocked' }),
      item('deferred', { response: '421 try later', attempt: '3' }),
      item('dropped', { reason: 'Bounced Address' }),
      item('spamreport'),
      item('unsubscribe'),
      item('group_unsubscribe', { asm_group_id: 10 }),
    ],
    context(),
  );
}

function trackingEvents(): TouchpointEvent[] {
  const secret = randomUUID();
  const fields = { recipient: 'ada@example.com', campaignId: null, messageId: 'm-1' };
  const request = { ...context(), requestId: randomUUID(), userAgent: 'UA', ipAddress: null };
  const link = signTrackedLink({ ...fields, url: 'https://example.com/a' }, secret);
  const pixel = signOpenPixel(fields, secret);
  return [
    trackedLinkClickedEvent(verifyTrackedLinkOrThrow(link.params, secret), request),
    openPixelOpenedEvent(verifyOpenPixelOrThrow(pixel.params, secret), request),
  ];
}

function twilioVoiceEvents(): MappingResult[] {
  const call = (status: string, extra: Record<string, string> = {}) => ({
    CallSid: `CA${randomUUID().replace(/-/g, '')}`,
    From: '+14155552671',
    To: '+442079460958',
    CallStatus: status,
    Direction: 'inbound',
    Timestamp: 'Wed, 01 May 2024 09:59:00 +0000',
    ...extra,
  });
  return [
    mapTwilioVoiceStatus(call('ringing'), context()),
    mapTwilioVoiceStatus(call('in-progress', { From: 'Anonymous' }), context()),
    mapTwilioVoiceStatus(call('completed', { CallDuration: '125' }), context()),
    mapTwilioVoiceStatus(call('no-answer', { Direction: 'outbound-api' }), context()),
  ];
}

function contactCentreEvents(): MappingResult {
  const call = (type: string, extra: Record<string, unknown> = {}) => ({
    id: `evt-${randomUUID()}`,
    type,
    callId: 'call-77',
    occurredAt: '2024-05-01T09:30:00+02:00',
    direction: 'inbound',
    from: '020 7946 0958',
    to: '+44 20 7946 0000',
    customer: { externalId: 'crm-123' },
    agent: { id: 'agent-7', name: 'Sam' },
    queue: 'billing',
    ivrPath: ['main', 'billing'],
    topic: 'invoice question',
    ...extra,
  });
  return mapContactCentreEvents(
    {
      events: [
        call('call.started'),
        call('call.answered'),
        call('call.ended', { durationSeconds: 312, disposition: 'resolved' }),
        call('call.missed', { reason: 'abandoned' }),
        call('voicemail.left', { durationSeconds: 40, recordingUrl: 'https://rec.example.com/1' }),
        call('voicemail.left', { agent: null, queue: null, ivrPath: [], topic: null }),
      ],
    },
    context(),
    { defaultCountry: 'GB' },
  );
}

function smsEvents(): MappingResult[] {
  const sid = () => `SM${randomUUID().replace(/-/g, '')}`;
  const status = (MessageStatus: string, ErrorCode = '') =>
    mapTwilioSmsStatus(
      { MessageSid: sid(), MessageStatus, From: '+442079460958', To: '+14155552671', ErrorCode },
      context(),
    );
  return [
    mapTwilioIncomingSms(
      { MessageSid: sid(), From: '+14155552671', To: '+442079460958', Body: 'Hi', NumMedia: '2' },
      context(),
    ),
    status('sent'),
    status('delivered'),
    status('failed', '30008'),
    status('undelivered'),
  ];
}

function otherContactEvents(): MappingResult {
  const contact = (type: string, extra: Record<string, unknown>) => ({
    id: `c-${randomUUID()}`,
    type,
    occurredAt: '2024-05-01T09:00:00Z',
    customer: { email: ' Jane@Example.com', phone: '+14155552671', externalId: 'crm-1' },
    staffId: 'staff-3',
    topic: 'returns',
    ...extra,
  });
  return mapOtherContacts(
    {
      contacts: [
        contact('store.visit', { storeId: 's-12', storeName: 'Oxford St', durationMinutes: 25 }),
        contact('store.visit', { storeId: 's-13', customer: { externalId: 'crm-2' } }),
        contact('meeting', { medium: 'in-person', durationMinutes: 45, outcome: 'proposal' }),
        contact('support.ticket.opened', { ticketId: 'T-9', subject: 'Zip', via: 'email' }),
        contact('support.ticket.resolved', { ticketId: 'T-9', outcome: 'refunded' }),
      ],
    },
    context(),
  );
}

function producedEvents(): TouchpointEvent[] {
  const results = [
    sendGridEvents(),
    ...twilioVoiceEvents(),
    contactCentreEvents(),
    ...smsEvents(),
    otherContactEvents(),
  ];
  for (const result of results) expect(result.rejected).toEqual([]);
  return [...results.flatMap((r) => r.events), ...trackingEvents()];
}

// ---- the tests --------------------------------------------------------------------------------

describe('Avro contract of the touchpoint events', () => {
  it('holds only true in the compile-time type comparison', () => {
    expect(Object.values(sameTypes).every((same) => same)).toBe(true);
    expect(Object.keys(sameTypes).sort()).toEqual([...TOUCHPOINT_EVENT_TYPES].sort());
  });

  it.each(TOUCHPOINT_EVENT_TYPES)(
    '%s v1 has a schema on its channel whose fields and pii marks are the catalogue',
    (type) => {
      const schema = SCHEMA_REGISTRY.event(type, 1);
      expect(schema).toBeDefined();
      const source = schema!.source;
      expect(source.file).toBe(`schemas/events/${TOUCHPOINT_CHANNEL_OF[type]}/${type}.v1.avsc`);
      expect(source.channel).toBe(TOUCHPOINT_CHANNEL_OF[type]);
      const fields = source.schema['fields'] as SchemaField[];
      expect(fields).toEqual(TOUCHPOINT_EVENT_CATALOG[type].map(expectedField));

      const entry = EVENT_CATALOG.find((e) => e.type === type && e.version === 1);
      expect(entry?.channel).toBe(TOUCHPOINT_CHANNEL_OF[type]);
      expect(entry?.piiFields).toEqual(
        TOUCHPOINT_EVENT_CATALOG[type].filter((f) => f.personal).map((f) => f.name),
      );
    },
  );

  describe('events produced by the mappers', () => {
    const events = producedEvents();

    it('cover every touchpoint event type', () => {
      expect([...new Set(events.map((e) => e.type))].sort()).toEqual(
        [...TOUCHPOINT_EVENT_TYPES].sort(),
      );
    });

    it.each(TOUCHPOINT_EVENT_TYPES)(
      '%s passes validateEventData and round-trips through Avro and JSON unchanged',
      (type) => {
        const ofType = events.filter((e) => e.type === type);
        expect(ofType.length).toBeGreaterThan(0);
        for (const event of ofType) {
          expect(catalogMismatches(event)).toEqual([]);
          expect(event.schemaVersion).toBe(1);

          const valid = validateEventData(event.type, event.schemaVersion, event.data);
          expect(valid).toEqual({ ok: true, value: event.data });

          const decoded = decodeEventDataOrThrow(
            encodeEventData(event.type, event.schemaVersion, event.data),
          );
          expect(decoded).toEqual({ type, version: 1, value: event.data });

          // Through text, as the event store's JSONB column does.
          const stored = JSON.parse(
            JSON.stringify(eventDataToJson(event.type, event.schemaVersion, event.data)),
          ) as unknown;
          expect(eventDataFromJson(event.type, event.schemaVersion, stored)).toEqual(event.data);
        }
      },
    );
  });

  it('refuses data a mapper could never produce: a value outside the allowed set, a missing field', () => {
    const [event] = otherContactEvents().events.filter((e) => e.type === 'MeetingHeld');
    const result = validateEventData('MeetingHeld', 1, {
      ...event!.data,
      medium: 'carrier pigeon',
      occurredAt: undefined,
    });
    expect(result.ok ? [] : result.errors.map((e) => `${e.path}:${e.rule}`)).toEqual([
      'occurredAt:required',
      'medium:enum',
    ]);
  });
});
