import type { TouchpointEventType } from './events';

/**
 * The fields of every event's `data`, in a form an Avro schema can be written from: the type
 * (Avro terms), whether null is allowed, whether it is personal data. A unit test checks that
 * every event the mappers produce matches this catalogue exactly.
 */
export type CatalogFieldType =
  | 'string'
  | 'int'
  | 'boolean'
  | 'timestamp-millis'
  | 'array<string>'
  | { readonly enum: readonly string[] };

export interface CatalogField {
  readonly name: string;
  readonly type: CatalogFieldType;
  readonly nullable: boolean;
  readonly personal: boolean;
  readonly doc: string;
}

const f = (
  name: string,
  type: CatalogFieldType,
  nullable: boolean,
  personal: boolean,
  doc: string,
): CatalogField => ({
  name,
  type,
  nullable,
  personal,
  doc,
});

const EMAIL_PROVIDERS = { enum: ['sendgrid', 'mailgun', 'ses', 'postmark', 'touchline'] } as const;
const emailFields: readonly CatalogField[] = [
  f(
    'provider',
    EMAIL_PROVIDERS,
    false,
    false,
    'Which provider reported the event; touchline for tracked links and pixels.',
  ),
  f('recipient', 'string', false, true, 'Recipient address, trimmed and lowercased.'),
  f('messageId', 'string', true, false, "The provider's (or sender's) id of the message."),
  f('providerEventId', 'string', true, false, "The provider's id of this event."),
  f(
    'campaignId',
    'string',
    true,
    false,
    'Campaign the message belongs to (custom variable campaign_id).',
  ),
  f('tags', 'array<string>', false, false, 'Provider tags or categories.'),
  f('occurredAt', 'timestamp-millis', false, false, "When it happened, by the provider's clock."),
];
const clientFields: readonly CatalogField[] = [
  f('userAgent', 'string', true, true, 'User agent of the client that opened or clicked.'),
  f('ipAddress', 'string', true, true, 'IP address of the client that opened or clicked.'),
];

const callFields: readonly CatalogField[] = [
  f(
    'provider',
    { enum: ['twilio', 'contact-centre'] },
    false,
    false,
    'Which system reported the call.',
  ),
  f('callId', 'string', false, false, "The provider's id of the call."),
  f('direction', { enum: ['inbound', 'outbound'] }, false, false, 'Inbound: the customer called.'),
  f('from', 'string', true, true, 'Calling number, E.164; null when withheld or not a number.'),
  f('to', 'string', true, true, 'Called number, E.164; null when not a number.'),
  f(
    'customerPhone',
    'string',
    true,
    true,
    "The customer's number, E.164 (from when inbound, to when outbound).",
  ),
  f('customerExternalId', 'string', true, false, "The reporting system's id of the customer."),
  f('agentId', 'string', true, false, 'Agent who handled the call.'),
  f('agentName', 'string', true, true, "Agent's name."),
  f('queue', 'string', true, false, 'Queue the call went through.'),
  f('ivrPath', 'array<string>', false, false, 'IVR menu choices, in order.'),
  f('topic', 'string', true, false, 'What the call was about.'),
  f('occurredAt', 'timestamp-millis', false, false, "When it happened, by the provider's clock."),
];

const smsFields: readonly CatalogField[] = [
  f('provider', { enum: ['twilio'] }, false, false, 'Which provider reported the message.'),
  f('messageId', 'string', false, false, "The provider's id of the message (Twilio MessageSid)."),
  f('from', 'string', true, true, 'Sender, E.164.'),
  f('to', 'string', true, true, 'Recipient, E.164.'),
  f('customerPhone', 'string', true, true, "The customer's number, E.164."),
  f(
    'occurredAt',
    'timestamp-millis',
    false,
    false,
    'When it happened (receive time: Twilio sends none).',
  ),
];

const contactFields: readonly CatalogField[] = [
  f('contactId', 'string', false, false, "The reporting system's id of this contact."),
  f('customerEmail', 'string', true, true, 'Customer address, normalized.'),
  f('customerPhone', 'string', true, true, 'Customer number, E.164.'),
  f('customerExternalId', 'string', true, false, "The reporting system's id of the customer."),
  f('staffId', 'string', true, false, 'Employee who handled the contact.'),
  f('topic', 'string', true, false, 'What the contact was about.'),
  f('occurredAt', 'timestamp-millis', false, false, 'When it happened.'),
];

export const TOUCHPOINT_EVENT_CATALOG: {
  readonly [T in TouchpointEventType]: readonly CatalogField[];
} = {
  EmailSent: emailFields,
  EmailDelivered: [
    ...emailFields,
    f('smtpResponse', 'string', true, true, "The receiving server's answer."),
  ],
  EmailOpened: [
    ...emailFields,
    ...clientFields,
    f('machineOpen', 'boolean', true, false, 'True when the provider flags the open as automatic.'),
  ],
  EmailLinkClicked: [
    ...emailFields,
    f('url', 'string', false, true, 'The clicked target URL (may carry personal tokens).'),
    ...clientFields,
  ],
  EmailBounced: [
    ...emailFields,
    f(
      'bounceType',
      { enum: ['hard', 'soft'] },
      false,
      false,
      'Hard: the address does not exist; soft: temporary.',
    ),
    f('providerBounceType', 'string', true, false, "The provider's own classification."),
    f('reason', 'string', true, true, 'Diagnostic text.'),
  ],
  EmailMarkedAsSpam: [
    ...emailFields,
    f('feedbackType', 'string', true, false, 'Feedback-loop type, e.g. abuse.'),
  ],
  EmailUnsubscribed: [
    ...emailFields,
    f('scope', { enum: ['all', 'list'] }, false, false, 'From everything, or from one list/group.'),
    f('listId', 'string', true, false, 'The list, group or stream unsubscribed from.'),
  ],
  EmailDeferred: [
    ...emailFields,
    f('reason', 'string', true, true, 'Diagnostic text.'),
    f('attempt', 'int', true, false, 'Delivery attempt number.'),
  ],
  EmailDropped: [
    ...emailFields,
    f('reason', 'string', true, true, 'Why the provider did not send.'),
  ],
  CallStarted: [
    ...callFields,
    f('providerStatus', 'string', true, false, 'Provider status, e.g. initiated, ringing.'),
  ],
  CallAnswered: callFields,
  CallEnded: [
    ...callFields,
    f('durationSeconds', 'int', false, false, 'Talk time in seconds.'),
    f('disposition', 'string', true, false, 'How the call ended, in the reporting system’s terms.'),
  ],
  CallMissed: [
    ...callFields,
    f(
      'reason',
      { enum: ['no-answer', 'busy', 'failed', 'canceled', 'abandoned'] },
      false,
      false,
      'Why no one talked.',
    ),
  ],
  VoicemailLeft: [
    ...callFields,
    f('durationSeconds', 'int', true, false, 'Length of the message in seconds.'),
    f('recordingUrl', 'string', true, true, 'Where the recording is.'),
  ],
  SmsReceived: [
    ...smsFields,
    f('body', 'string', false, true, 'Message text.'),
    f('mediaCount', 'int', false, false, 'Number of attached media.'),
  ],
  SmsSent: smsFields,
  SmsDelivered: smsFields,
  SmsFailed: [
    ...smsFields,
    f('status', { enum: ['failed', 'undelivered'] }, false, false, 'Twilio status.'),
    f('errorCode', 'string', true, false, 'Twilio error code.'),
  ],
  StoreVisited: [
    ...contactFields,
    f('storeId', 'string', false, false, 'The store visited.'),
    f('storeName', 'string', true, false, 'Its name.'),
    f('durationMinutes', 'int', true, false, 'Length of the visit.'),
    f('outcome', 'string', true, false, 'What came of it.'),
  ],
  MeetingHeld: [
    ...contactFields,
    f(
      'medium',
      { enum: ['in-person', 'video', 'phone', 'other'] },
      false,
      false,
      'How the meeting was held.',
    ),
    f('durationMinutes', 'int', true, false, 'Length of the meeting.'),
    f('outcome', 'string', true, false, 'What came of it.'),
  ],
  SupportTicketOpened: [
    ...contactFields,
    f('ticketId', 'string', false, false, "The support system's ticket id."),
    f('subject', 'string', true, true, 'Ticket subject (free text).'),
    f('priority', 'string', true, false, 'Priority in the support system’s terms.'),
    f('via', 'string', true, false, 'Where the customer raised it.'),
  ],
  SupportTicketResolved: [
    ...contactFields,
    f('ticketId', 'string', false, false, "The support system's ticket id."),
    f('outcome', 'string', false, false, 'How it was resolved.'),
  ],
};
