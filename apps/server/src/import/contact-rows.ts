import { createHash } from 'node:crypto';
import { type JsonObject, validateEventData } from '@touchline/contracts';
import {
  type CountryCode,
  type EmailEvent,
  type FieldError,
  type MappingResult,
  mapContactCentreEvents,
  mapOtherContacts,
  normalizeEmail,
  type TouchpointEvent,
  touchpointEvent,
  touchpointEventId,
} from '@touchline/touchpoints';
import { streamIdOfTouchpoint } from '../touchpoints/touchpoint-publisher';
import { IMPORT_DATE_FORMATS, type ImportRow, parseImportDate, rowValues } from './order-rows';
import type { ImportedEvent, ImportRejection, ImportRowOutcome } from './row-importer';

/** Deferred and dropped are a provider's delivery attempts: not something to import. */
type EmailType = Exclude<EmailEvent['type'], 'EmailDeferred' | 'EmailDropped'>;

type ContactKind =
  | { readonly kind: 'other'; readonly type: string }
  | { readonly kind: 'call'; readonly type: string }
  | { readonly kind: 'email'; readonly type: EmailType };

/**
 * The `type` column's values and what each becomes: the /v1/contacts and /v1/calls types (read
 * and validated by their own mappers), short names for them, and email events.
 */
export const CONTACT_IMPORT_TYPES: Readonly<Record<string, ContactKind>> = {
  'store.visit': { kind: 'other', type: 'store.visit' },
  meeting: { kind: 'other', type: 'meeting' },
  'ticket.opened': { kind: 'other', type: 'support.ticket.opened' },
  'support.ticket.opened': { kind: 'other', type: 'support.ticket.opened' },
  'ticket.resolved': { kind: 'other', type: 'support.ticket.resolved' },
  'support.ticket.resolved': { kind: 'other', type: 'support.ticket.resolved' },
  call: { kind: 'call', type: 'call.ended' },
  'call.started': { kind: 'call', type: 'call.started' },
  'call.answered': { kind: 'call', type: 'call.answered' },
  'call.ended': { kind: 'call', type: 'call.ended' },
  'call.missed': { kind: 'call', type: 'call.missed' },
  'voicemail.left': { kind: 'call', type: 'voicemail.left' },
  'email.sent': { kind: 'email', type: 'EmailSent' },
  'email.delivered': { kind: 'email', type: 'EmailDelivered' },
  'email.opened': { kind: 'email', type: 'EmailOpened' },
  'email.clicked': { kind: 'email', type: 'EmailLinkClicked' },
  'email.bounced': { kind: 'email', type: 'EmailBounced' },
  'email.spam': { kind: 'email', type: 'EmailMarkedAsSpam' },
  'email.unsubscribed': { kind: 'email', type: 'EmailUnsubscribed' },
};

const EMAIL_PROVIDERS = ['sendgrid', 'mailgun', 'ses', 'postmark', 'touchline'] as const;

export type ContactRejectionCode =
  | 'missing-customer'
  | 'bad-type'
  | 'bad-date'
  | 'bad-email'
  | 'bad-phone'
  | 'missing-field'
  | 'bad-value'
  | 'invalid-event';

export interface ContactRowContext {
  readonly sourceId: string;
  /** Country of phone numbers written without a country prefix (TOUCHLINE_DEFAULT_COUNTRY). */
  readonly defaultCountry?: CountryCode;
}

/** The field of the row a mapper's error path names (customer.email → email). */
const ROW_FIELD_OF_PATH: Readonly<Record<string, string>> = {
  customer: 'customer',
  'customer.email': 'email',
  'customer.phone': 'phone',
  'customer.externalId': 'externalId',
  'agent.id': 'agentId',
  'agent.name': 'agentName',
};

function rejectionOf(line: number, errors: readonly FieldError[]): ImportRejection {
  const first = errors[0] ?? { path: '(row)', rule: 'required', message: 'not readable' };
  const field = ROW_FIELD_OF_PATH[first.path] ?? first.path;
  const code: ContactRejectionCode =
    field === 'occurredAt'
      ? 'bad-date'
      : field === 'type'
        ? 'bad-type'
        : first.path.startsWith('customer') && first.rule === 'required'
          ? 'missing-customer'
          : first.rule === 'email'
            ? 'bad-email'
            : first.rule === 'phone'
              ? 'bad-phone'
              : first.rule === 'required'
                ? 'missing-field'
                : 'bad-value';
  const message = errors
    .map((e) => `${ROW_FIELD_OF_PATH[e.path] ?? e.path}: ${e.message}`)
    .join('; ');
  return { line, code, field, message };
}

/** A stable key of the row's content: the same contact in another file, or again, is one event. */
function rowHash(fields: Readonly<Record<string, string>>): string {
  const sorted = Object.entries(fields)
    .map(([k, v]) => [k, v.trim()])
    .filter(([, v]) => v !== '')
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return `row:${createHash('sha256').update(JSON.stringify(sorted)).digest('hex')}`;
}

/**
 * Turns one imported contact row into its touchpoint event, read and validated by the same
 * mappers as POST /v1/contacts and /v1/calls (email rows by the email contracts), plus, for a row
 * with a userId, the UserIdentified event that links that user to the contact's identifiers.
 * Event ids come from (source, row id), or the row's content when it has no id.
 */
export function contactEventsFromRow(row: ImportRow, context: ContactRowContext): ImportRowOutcome {
  const value = rowValues(row);
  const reject = (
    code: ContactRejectionCode,
    field: string,
    message: string,
  ): ImportRowOutcome => ({
    ok: false,
    rejection: { line: row.line, code, field, message },
  });
  const typeText = (value('type') ?? '').toLowerCase();
  const kind = CONTACT_IMPORT_TYPES[typeText];
  if (kind === undefined)
    return reject(
      'bad-type',
      'type',
      `type must be one of ${Object.keys(CONTACT_IMPORT_TYPES).join(', ')}; got "${typeText.slice(0, 40)}"`,
    );
  const occurredAt = parseImportDate(value('occurredAt'));
  if (occurredAt === null)
    return reject('bad-date', 'occurredAt', `the time must be ${IMPORT_DATE_FORMATS}`);
  const userId = value('userId');
  if (userId !== null && userId.length > 512)
    return reject('bad-value', 'userId', 'the user id is over 512 characters');
  const email = value('email');
  const phone = value('phone');
  const externalId = value('externalId');
  if (email === null && phone === null && externalId === null)
    return reject(
      'missing-customer',
      'customer',
      userId === null
        ? 'the row names no customer: give email, phone or externalId (and userId to link them)'
        : 'a user id alone cannot join a contact event: give email, phone or externalId with it',
    );
  const id = value('id') ?? rowHash(row.fields);
  // Namespaced: an imported contact never takes the id of one a live source sent.
  const mapping = { sourceId: `import:${context.sourceId}`, receivedAt: occurredAt };
  const customer = { email, phone, externalId };
  const countryOption =
    context.defaultCountry === undefined ? {} : { defaultCountry: context.defaultCountry };
  const optional = (pairs: Record<string, string | null>): JsonObject => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(pairs)) if (v !== null) out[k] = v;
    return out;
  };
  let built: MappingResult | { events: TouchpointEvent[]; rejected: { errors: FieldError[] }[] };
  if (kind.kind === 'other') {
    const item = {
      id,
      type: kind.type,
      occurredAt: occurredAt.toISOString(),
      customer: optional(customer),
      ...optional({
        staffId: value('staffId'),
        topic: value('topic'),
        storeId: value('storeId'),
        storeName: value('storeName'),
        durationMinutes: value('durationMinutes'),
        outcome: value('outcome'),
        medium: value('medium'),
        ticketId: value('ticketId'),
        // A ticket's subject is the one free-text field the contact contracts have.
        subject: value('subject') ?? value('notes'),
        priority: value('priority'),
        via: value('via'),
      }),
    };
    built = mapOtherContacts(item, mapping, countryOption);
  } else if (kind.kind === 'call') {
    const agentId = value('agentId');
    const item = {
      id,
      type: kind.type,
      callId: value('callId') ?? id,
      occurredAt: occurredAt.toISOString(),
      customer: optional({ phone, externalId }),
      ...(agentId === null ? {} : { agent: optional({ id: agentId, name: value('agentName') }) }),
      ...optional({
        direction: value('direction'),
        queue: value('queue'),
        topic: value('topic'),
        durationSeconds: value('durationSeconds'),
        disposition: value('disposition') ?? value('outcome'),
        reason: value('reason'),
      }),
    };
    built = mapContactCentreEvents(item, mapping, countryOption);
  } else {
    built = emailEventOf(kind.type, id, occurredAt, value, mapping.sourceId);
  }
  const failed = built.rejected[0];
  const event = built.events[0];
  if (failed !== undefined || event === undefined)
    return { ok: false, rejection: rejectionOf(row.line, failed?.errors ?? []) };
  const contact = importedEventOf(event);
  if (!contact.ok) return { ok: false, rejection: { ...contact.rejection, line: row.line } };
  if (userId === null) return { ok: true, events: [contact.event] };
  const link = userLinkOf(userId, event, mapping.sourceId);
  if (!link.ok) return { ok: false, rejection: { ...link.rejection, line: row.line } };
  return { ok: true, events: [contact.event, link.event] };
}

type Built =
  | { readonly ok: true; readonly event: ImportedEvent }
  | { readonly ok: false; readonly rejection: ImportRejection };

/** The contract's own validation, as for every touchpoint the collector publishes. */
function validated(
  type: string,
  channel: ImportedEvent['channel'],
  eventId: string,
  streamId: string | null,
  occurredAt: Date,
  data: unknown,
): Built {
  const valid = validateEventData(type, 1, data);
  if (!valid.ok || streamId === null) {
    const errors = valid.ok
      ? [{ path: '(identifiers)', message: 'no email, phone or external id to join a customer' }]
      : valid.errors;
    return {
      ok: false,
      rejection: {
        line: 0,
        code: 'invalid-event',
        field: errors[0]?.path ?? '(row)',
        message: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      },
    };
  }
  return {
    ok: true,
    event: { eventId, type, schemaVersion: 1, channel, streamId, occurredAt, data: valid.value },
  };
}

function importedEventOf(event: TouchpointEvent): Built {
  return validated(
    event.type,
    event.channel,
    event.eventId,
    streamIdOfTouchpoint(event),
    event.occurredAt,
    event.data,
  );
}

/**
 * Contact events carry email, phone and external id, not the user id: a UserIdentified (one per
 * user and set of identifiers) links them, as an identify call would. Its external id has the
 * system `crm`, the one identity resolution gives a contact's customerExternalId.
 */
function userLinkOf(userId: string, contact: TouchpointEvent, sourceId: string): Built {
  const { email, phone, externalId } = contact.identifiers;
  const linked = [
    ...(email === null ? [] : [`email:${email}`]),
    ...(phone === null ? [] : [`phone:${phone}`]),
    ...(externalId === null ? [] : [`crm:${externalId}`]),
  ];
  const eventId = touchpointEventId('import', sourceId, 'UserIdentified', userId, ...linked);
  const traits: JsonObject = {
    ...(email === null ? {} : { email }),
    ...(phone === null ? {} : { phone }),
  };
  return validated('UserIdentified', 'web', eventId, `user:${userId}`, contact.occurredAt, {
    messageId: eventId,
    userId,
    anonymousId: null,
    traits,
    context: {
      library: { name: 'touchline-import' },
      ...(externalId === null ? {} : { externalIds: [{ id: externalId, type: 'crm' }] }),
    },
    integrations: {},
    timestamp: contact.occurredAt,
    sentAt: null,
    originalTimestamp: contact.occurredAt,
  });
}

/** Email rows: no webhook mapper reads our format, so the fields are checked here. */
function emailEventOf(
  type: EmailType,
  id: string,
  occurredAt: Date,
  value: (name: string) => string | null,
  sourceId: string,
): { events: TouchpointEvent[]; rejected: { errors: FieldError[] }[] } {
  const fail = (path: string, rule: FieldError['rule'], message: string) => ({
    events: [],
    rejected: [{ errors: [{ path, rule, message }] }],
  });
  const address = normalizeEmail(value('email'));
  if (!address.ok)
    return value('email') === null
      ? fail('customer.email', 'required', 'an email event needs the recipient email')
      : fail('customer.email', 'email', address.message);
  const provider = value('provider') ?? 'touchline';
  if (!(EMAIL_PROVIDERS as readonly string[]).includes(provider))
    return fail('provider', 'enum', `must be one of ${EMAIL_PROVIDERS.join(', ')}`);
  const common = {
    provider: provider as (typeof EMAIL_PROVIDERS)[number],
    recipient: address.value,
    messageId: value('messageId'),
    providerEventId: null,
    campaignId: value('campaignId'),
    tags: [],
    occurredAt,
  };
  const eventId = touchpointEventId('email', sourceId, 'import', type, id);
  const identifiers = { email: address.value, phone: null, externalId: null };
  const one = (event: TouchpointEvent) => ({ events: [event], rejected: [] });
  switch (type) {
    case 'EmailSent':
      return one(touchpointEvent(type, eventId, identifiers, common));
    case 'EmailDelivered':
      return one(touchpointEvent(type, eventId, identifiers, { ...common, smtpResponse: null }));
    case 'EmailOpened':
      return one(
        touchpointEvent(type, eventId, identifiers, {
          ...common,
          userAgent: null,
          ipAddress: null,
          machineOpen: null,
        }),
      );
    case 'EmailLinkClicked': {
      const url = value('url');
      if (url === null) return fail('url', 'required', 'a click needs the url clicked');
      return one(
        touchpointEvent(type, eventId, identifiers, {
          ...common,
          url,
          userAgent: null,
          ipAddress: null,
        }),
      );
    }
    case 'EmailBounced': {
      const bounceType = value('bounceType');
      if (bounceType !== 'hard' && bounceType !== 'soft')
        return fail(
          'bounceType',
          bounceType === null ? 'required' : 'enum',
          'must be hard or soft',
        );
      return one(
        touchpointEvent(type, eventId, identifiers, {
          ...common,
          bounceType,
          providerBounceType: null,
          reason: value('reason'),
        }),
      );
    }
    case 'EmailMarkedAsSpam':
      return one(touchpointEvent(type, eventId, identifiers, { ...common, feedbackType: null }));
    case 'EmailUnsubscribed': {
      const scope = value('scope') ?? 'all';
      if (scope !== 'all' && scope !== 'list') return fail('scope', 'enum', 'must be all or list');
      return one(
        touchpointEvent(type, eventId, identifiers, {
          ...common,
          scope,
          listId: value('listId'),
        }),
      );
    }
  }
}
