/**
 * The field names a contact row is mapped to (see docs/customer-value.md, "Contacts"): the
 * customer's identifiers, the contact's type and time, and what each type of contact carries.
 * Kept apart from contact-rows.ts so the CLI reads the list without the contract code.
 */
export const CONTACT_FIELDS = [
  'id',
  'type',
  'occurredAt',
  'userId',
  'email',
  'phone',
  'externalId',
  'topic',
  'outcome',
  'notes',
  'staffId',
  'storeId',
  'storeName',
  'durationMinutes',
  'medium',
  'ticketId',
  'subject',
  'priority',
  'via',
  'callId',
  'direction',
  'durationSeconds',
  'disposition',
  'reason',
  'agentId',
  'agentName',
  'queue',
  'provider',
  'messageId',
  'campaignId',
  'url',
  'bounceType',
  'scope',
  'listId',
] as const;

export type ContactField = (typeof CONTACT_FIELDS)[number];
