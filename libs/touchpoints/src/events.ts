/**
 * The normalized touchpoint events every provider is mapped into. `data` is the event payload
 * (what the Avro schema of the type describes: it carries its own identifiers, so a stored event
 * is self-contained); the other fields are what the collector needs to publish it.
 */

/** The channels of these touchpoints: a subset of @touchline/contracts' Channel. */
export type TouchpointChannel = 'email' | 'phone' | 'other';

export type EmailProvider = 'sendgrid' | 'mailgun' | 'ses' | 'postmark' | 'touchline';
export type PhoneProvider = 'twilio' | 'contact-centre';
export type CallDirection = 'inbound' | 'outbound';
export type BounceType = 'hard' | 'soft';
export type CallMissedReason = 'no-answer' | 'busy' | 'failed' | 'canceled' | 'abandoned';
export type UnsubscribeScope = 'all' | 'list';
export type MeetingMedium = 'in-person' | 'video' | 'phone' | 'other';
export type SmsFailureStatus = 'failed' | 'undelivered';

/** The identifiers that join the event to a customer, already normalized; also present in `data`. */
export interface CustomerIdentifiers {
  /** Lowercased, trimmed address (see normalizeEmail). */
  readonly email: string | null;
  /** E.164. */
  readonly phone: string | null;
  /** The sender's own id of the customer (CRM id, contact-centre customer id). */
  readonly externalId: string | null;
}

// ---- email ------------------------------------------------------------------------------------

interface EmailFields {
  readonly provider: EmailProvider;
  /** Normalized recipient address. Personal data. */
  readonly recipient: string;
  /** The provider's (or, for tracked links, the sender's) id of the message. */
  readonly messageId: string | null;
  /** The provider's id of this event, when it has one. */
  readonly providerEventId: string | null;
  readonly campaignId: string | null;
  /** Provider tags or categories. */
  readonly tags: readonly string[];
  readonly occurredAt: Date;
}

export type EmailSentData = EmailFields;
export interface EmailDeliveredData extends EmailFields {
  /** The receiving server's answer; may quote the address. Personal data. */
  readonly smtpResponse: string | null;
}
export interface EmailOpenedData extends EmailFields {
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
  /** True when the provider flags the open as automatic (e.g. Apple Mail privacy prefetch). */
  readonly machineOpen: boolean | null;
}
export interface EmailLinkClickedData extends EmailFields {
  /** The target URL; may carry personal tokens. Personal data. */
  readonly url: string;
  readonly userAgent: string | null;
  readonly ipAddress: string | null;
}
export interface EmailBouncedData extends EmailFields {
  readonly bounceType: BounceType;
  /** The provider's own classification, e.g. Permanent/General, HardBounce, blocked. */
  readonly providerBounceType: string | null;
  /** Diagnostic text; may quote the address. Personal data. */
  readonly reason: string | null;
}
export interface EmailMarkedAsSpamData extends EmailFields {
  readonly feedbackType: string | null;
}
export interface EmailUnsubscribedData extends EmailFields {
  /** 'all': from everything; 'list': from one group, list or stream named by listId. */
  readonly scope: UnsubscribeScope;
  readonly listId: string | null;
}
export interface EmailDeferredData extends EmailFields {
  readonly reason: string | null;
  readonly attempt: number | null;
}
export interface EmailDroppedData extends EmailFields {
  readonly reason: string | null;
}

// ---- phone ------------------------------------------------------------------------------------

interface CallFields {
  readonly provider: PhoneProvider;
  readonly callId: string;
  readonly direction: CallDirection;
  /** E.164, or null when withheld or not a phone number (SIP URI, client name). Personal data. */
  readonly from: string | null;
  readonly to: string | null;
  /** The customer's side of the call, E.164. Personal data. */
  readonly customerPhone: string | null;
  readonly customerExternalId: string | null;
  readonly agentId: string | null;
  /** Personal data (of the agent). */
  readonly agentName: string | null;
  readonly queue: string | null;
  /** IVR menu choices in order, e.g. ["main", "billing"]. */
  readonly ivrPath: readonly string[];
  readonly topic: string | null;
  readonly occurredAt: Date;
}

export interface CallStartedData extends CallFields {
  /** The provider's status that started the call, e.g. initiated or ringing. */
  readonly providerStatus: string | null;
}
export type CallAnsweredData = CallFields;
export interface CallEndedData extends CallFields {
  readonly durationSeconds: number;
  readonly disposition: string | null;
}
export interface CallMissedData extends CallFields {
  readonly reason: CallMissedReason;
}
export interface VoicemailLeftData extends CallFields {
  readonly durationSeconds: number | null;
  /** Personal data (a recording of the voice). */
  readonly recordingUrl: string | null;
}

interface SmsFields {
  readonly provider: 'twilio';
  readonly messageId: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly customerPhone: string | null;
  readonly occurredAt: Date;
}
export interface SmsReceivedData extends SmsFields {
  /** Personal data. */
  readonly body: string;
  readonly mediaCount: number;
}
export type SmsSentData = SmsFields;
export type SmsDeliveredData = SmsFields;
export interface SmsFailedData extends SmsFields {
  readonly status: SmsFailureStatus;
  readonly errorCode: string | null;
}

// ---- other contacts ---------------------------------------------------------------------------

interface ContactFields {
  /** The reporting system's id of this contact; with the type, what makes a resubmission idempotent. */
  readonly contactId: string;
  readonly customerEmail: string | null;
  readonly customerPhone: string | null;
  readonly customerExternalId: string | null;
  readonly staffId: string | null;
  readonly topic: string | null;
  readonly occurredAt: Date;
}
export interface StoreVisitedData extends ContactFields {
  readonly storeId: string;
  readonly storeName: string | null;
  readonly durationMinutes: number | null;
  readonly outcome: string | null;
}
export interface MeetingHeldData extends ContactFields {
  readonly medium: MeetingMedium;
  readonly durationMinutes: number | null;
  readonly outcome: string | null;
}
export interface SupportTicketOpenedData extends ContactFields {
  readonly ticketId: string;
  /** Free text written by or about the customer. Personal data. */
  readonly subject: string | null;
  readonly priority: string | null;
  /** Where the customer raised it: email, phone, web, chat, in-person, ... */
  readonly via: string | null;
}
export interface SupportTicketResolvedData extends ContactFields {
  readonly ticketId: string;
  readonly outcome: string;
}

// ---- the union --------------------------------------------------------------------------------

export interface TouchpointEventDataMap {
  EmailSent: EmailSentData;
  EmailDelivered: EmailDeliveredData;
  EmailOpened: EmailOpenedData;
  EmailLinkClicked: EmailLinkClickedData;
  EmailBounced: EmailBouncedData;
  EmailMarkedAsSpam: EmailMarkedAsSpamData;
  EmailUnsubscribed: EmailUnsubscribedData;
  EmailDeferred: EmailDeferredData;
  EmailDropped: EmailDroppedData;
  CallStarted: CallStartedData;
  CallAnswered: CallAnsweredData;
  CallEnded: CallEndedData;
  CallMissed: CallMissedData;
  VoicemailLeft: VoicemailLeftData;
  SmsReceived: SmsReceivedData;
  SmsSent: SmsSentData;
  SmsDelivered: SmsDeliveredData;
  SmsFailed: SmsFailedData;
  StoreVisited: StoreVisitedData;
  MeetingHeld: MeetingHeldData;
  SupportTicketOpened: SupportTicketOpenedData;
  SupportTicketResolved: SupportTicketResolvedData;
}

export type TouchpointEventType = keyof TouchpointEventDataMap;

/** The event of type T; distributes over unions (TouchpointEventOf<'A' | 'B'> is one of two events). */
export type TouchpointEventOf<T extends TouchpointEventType> = T extends TouchpointEventType
  ? TouchpointEventShape<T>
  : never;

interface TouchpointEventShape<T extends TouchpointEventType> {
  readonly type: T;
  readonly schemaVersion: 1;
  /** Deterministic: derived from the source and the provider's ids, so a retry is idempotent. */
  readonly eventId: string;
  readonly channel: TouchpointChannel;
  /** The provider's event time (the receive time only where the provider sends none). */
  readonly occurredAt: Date;
  readonly identifiers: CustomerIdentifiers;
  readonly data: TouchpointEventDataMap[T];
}

export type TouchpointEvent = TouchpointEventOf<TouchpointEventType>;
export type EmailEvent = TouchpointEventOf<
  | 'EmailSent'
  | 'EmailDelivered'
  | 'EmailOpened'
  | 'EmailLinkClicked'
  | 'EmailBounced'
  | 'EmailMarkedAsSpam'
  | 'EmailUnsubscribed'
  | 'EmailDeferred'
  | 'EmailDropped'
>;

export const TOUCHPOINT_CHANNEL_OF: Readonly<Record<TouchpointEventType, TouchpointChannel>> = {
  EmailSent: 'email',
  EmailDelivered: 'email',
  EmailOpened: 'email',
  EmailLinkClicked: 'email',
  EmailBounced: 'email',
  EmailMarkedAsSpam: 'email',
  EmailUnsubscribed: 'email',
  EmailDeferred: 'email',
  EmailDropped: 'email',
  CallStarted: 'phone',
  CallAnswered: 'phone',
  CallEnded: 'phone',
  CallMissed: 'phone',
  VoicemailLeft: 'phone',
  SmsReceived: 'phone',
  SmsSent: 'phone',
  SmsDelivered: 'phone',
  SmsFailed: 'phone',
  StoreVisited: 'other',
  MeetingHeld: 'other',
  SupportTicketOpened: 'other',
  SupportTicketResolved: 'other',
};

export const TOUCHPOINT_EVENT_TYPES = Object.keys(
  TOUCHPOINT_CHANNEL_OF,
) as readonly TouchpointEventType[];

/** Builds an event; the identifiers are given explicitly so each mapper says what joins it. */
export function touchpointEvent<T extends TouchpointEventType>(
  type: T,
  eventId: string,
  identifiers: CustomerIdentifiers,
  data: TouchpointEventDataMap[T],
): TouchpointEventOf<T> {
  const event: TouchpointEventShape<T> = {
    type,
    schemaVersion: 1,
    eventId,
    channel: TOUCHPOINT_CHANNEL_OF[type],
    occurredAt: data.occurredAt,
    identifiers,
    data,
  };
  // T is one type here, so the conditional type resolves to exactly this shape.
  return event as TouchpointEventOf<T>;
}
