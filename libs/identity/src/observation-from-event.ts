import type { EventType } from '@touchline/contracts';
import { normalizeEmail, normalizePhoneE164, type CountryCode } from '@touchline/touchpoints';

import { IdentityError } from './errors';
import type { Identifier } from './identifier';
import type { EvidenceSource, Observation } from './observation';

/** What the mapping needs of a stored event (a RecordedEvent with its event time). */
export interface StoredEventLike {
  readonly eventId: string;
  readonly type: string;
  /** Event time: a Date, or the ISO string the recorder stores in metadata.occurredAt. */
  readonly occurredAt: Date | string;
  readonly streamId: string;
  readonly data: { readonly [key: string]: unknown };
}

export interface ObservationOptions {
  /** Country for phone numbers in traits written without a country code; none: such numbers are skipped. */
  readonly defaultCountry?: CountryCode;
  /**
   * System of the `customerExternalId` of phone and other-contact events ("your CRM id of the
   * customer" in both formats), so both join: `crm:<id>` by default.
   */
  readonly touchpointExternalIdSystem?: string;
  /**
   * What an alias's previousId is when it is not the call's own anonymousId. Segment allows an
   * anonymous id or an earlier user id there and does not say which; analytics.js sends the
   * anonymous id until the visitor is identified, so that is the default.
   */
  readonly aliasPreviousIdKind?: 'anonymousId' | 'userId';
}

type Data = StoredEventLike['data'];
type Extract = (data: Data, options: ObservationOptions, add: Add) => void;
type Add = (kind: Identifier['kind'], value: string | null) => void;

const stringOf = (value: unknown): string | null => (typeof value === 'string' ? value : null);

const objectOf = (value: unknown): Data | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Data) : null;

/** Traits are free-form: what is not an address or a number is not an identifier, not an error. */
function addTraits(traits: Data | null, options: ObservationOptions, add: Add): void {
  if (traits === null) return;
  const email = normalizeEmail(traits['email']);
  if (email.ok) add('email', email.value);
  if (typeof traits['phone'] === 'string') {
    const phone = normalizePhoneE164(traits['phone'], options.defaultCountry);
    if (phone.ok) add('phone', phone.value);
  }
}

/** Segment's user and anonymous ids, context.externalIds ({ id, type }) and context.traits. */
function addSegment(data: Data, options: ObservationOptions, add: Add): void {
  add('userId', stringOf(data['userId']));
  add('anonymousId', stringOf(data['anonymousId']));
  const context = objectOf(data['context']);
  if (context === null) return;
  const externalIds = context['externalIds'];
  if (Array.isArray(externalIds)) {
    for (const entry of externalIds) {
      const item = objectOf(entry);
      const id = stringOf(item?.['id']);
      const type = stringOf(item?.['type']);
      if (id !== null && id.length > 0 && type !== null && type.length > 0) {
        add('externalId', `${type}:${id}`);
      }
    }
  }
  addTraits(objectOf(context['traits']), options, add);
}

const identify: Extract = (data, options, add) => {
  addSegment(data, options, add);
  addTraits(objectOf(data['traits']), options, add);
};

const alias: Extract = (data, options, add) => {
  addSegment(data, options, add);
  const previousId = stringOf(data['previousId']);
  const kind =
    previousId !== null && previousId === data['anonymousId']
      ? 'anonymousId'
      : (options.aliasPreviousIdKind ?? 'anonymousId');
  add(kind, previousId);
};

const email: Extract = (data, _options, add) => {
  const recipient = normalizeEmail(data['recipient']);
  if (recipient.ok) add('email', recipient.value);
};

const contact: Extract = (data, options, add) => {
  const address = normalizeEmail(data['customerEmail']);
  if (address.ok) add('email', address.value);
  // Stored numbers are E.164 already; parsing again only checks it.
  const phone = normalizePhoneE164(data['customerPhone']);
  if (phone.ok) add('phone', phone.value);
  const externalId = stringOf(data['customerExternalId']);
  if (externalId !== null && externalId.length > 0) {
    add('externalId', `${options.touchpointExternalIdSystem ?? 'crm'}:${externalId}`);
  }
};

/** A consent statement: Segment's ids when it came as a track, the customer's address otherwise. */
const consentStatement: Extract = (data, options, add) => {
  addSegment(data, options, add);
  contact(
    {
      customerEmail: data['email'],
      customerPhone: data['phone'],
      customerExternalId: data['externalId'],
    },
    options,
    add,
  );
};

/** Every stored event type: a new schema fails to compile here until it is mapped. */
const MAPPINGS: Readonly<Record<EventType, readonly [EvidenceSource, Extract]>> = {
  UserIdentified: ['identify', identify],
  UserAliased: ['alias', alias],
  // A group's traits describe the group, not the person: only the caller's ids.
  GroupIdentified: ['group', addSegment],
  WebEventTracked: ['track', addSegment],
  OrderCompleted: ['track', addSegment],
  OrderRefunded: ['track', addSegment],
  ProductAdded: ['track', addSegment],
  ProductViewed: ['track', addSegment],
  WebPageViewed: ['page', addSegment],
  ScreenViewed: ['screen', addSegment],
  EmailBounced: ['email', email],
  EmailDeferred: ['email', email],
  EmailDelivered: ['email', email],
  EmailDropped: ['email', email],
  EmailLinkClicked: ['email', email],
  EmailMarkedAsSpam: ['email', email],
  EmailOpened: ['email', email],
  EmailSent: ['email', email],
  EmailUnsubscribed: ['email', email],
  CallAnswered: ['phone', contact],
  CallEnded: ['phone', contact],
  CallMissed: ['phone', contact],
  CallStarted: ['phone', contact],
  SmsDelivered: ['phone', contact],
  SmsFailed: ['phone', contact],
  SmsReceived: ['phone', contact],
  SmsSent: ['phone', contact],
  VoicemailLeft: ['phone', contact],
  MeetingHeld: ['other', contact],
  StoreVisited: ['other', contact],
  SupportTicketOpened: ['other', contact],
  SupportTicketResolved: ['other', contact],
  ConsentChanged: ['other', consentStatement],
};

const isMappedType = (type: string): type is EventType => Object.hasOwn(MAPPINGS, type);

/**
 * The identifiers a stored event saw together, or null when it carries none (an unknown type,
 * an admin event, a contact whose only address is unreadable). Values are normalized as the touchpoint edge does, so an
 * address in identify traits joins the recipient of an email event. Blocked values are kept:
 * blocking is a rule of the graph, and rules can change and be replayed.
 */
export function observationFromEvent(
  event: StoredEventLike,
  options: ObservationOptions = {},
): Observation | null {
  if (!isMappedType(event.type)) return null;
  const occurredAt =
    event.occurredAt instanceof Date ? event.occurredAt : new Date(event.occurredAt);
  if (!Number.isFinite(occurredAt.getTime())) {
    throw new IdentityError(
      'INVALID_EVENT',
      `event ${event.eventId} (${event.type}) has no readable occurredAt`,
    );
  }
  const [source, extract] = MAPPINGS[event.type];
  const identifiers: Identifier[] = [];
  const seen = new Set<string>();
  extract(event.data, options, (kind, value) => {
    if (value === null || value.length === 0 || seen.has(`${kind}:${value}`)) return;
    seen.add(`${kind}:${value}`);
    identifiers.push({ kind, value });
  });
  if (identifiers.length === 0) return null;
  return { eventId: event.eventId, occurredAt, source, identifiers };
}
