import { touchpointEventId } from '../event-id';
import { touchpointEvent, type TouchpointEventOf } from '../events';
import type { CountryCode } from '../identifiers/phone';
import { mapBatch } from '../internal/batch';
import { joinPath, type FieldReader, type JsonRecord } from '../internal/reader';
import type { MappingContext, MappingResult } from '../result';

export type OtherContactEvent = TouchpointEventOf<
  'StoreVisited' | 'MeetingHeld' | 'SupportTicketOpened' | 'SupportTicketResolved'
>;

export const OTHER_CONTACT_TYPES = [
  'store.visit',
  'meeting',
  'support.ticket.opened',
  'support.ticket.resolved',
] as const;

export interface OtherContactOptions {
  readonly defaultCountry?: CountryCode;
}

/**
 * Validates and maps contacts reported by a CRM, a store or a support desk (format in
 * docs/touchpoints.md): `{ "contacts": [...] }` (at most 500) or one contact object.
 */
export function mapOtherContacts(
  body: unknown,
  context: MappingContext,
  options: OtherContactOptions = {},
): MappingResult<OtherContactEvent> {
  return mapBatch<OtherContactEvent>(body, 'contacts', (r, o, path) =>
    mapOne(r, o, path, context, options),
  );
}

function mapOne(
  r: FieldReader,
  o: JsonRecord,
  path: string,
  context: MappingContext,
  options: OtherContactOptions,
): OtherContactEvent | null {
  const id = r.string(o, 'id', path, 256);
  const type = r.oneOf(o, 'type', path, OTHER_CONTACT_TYPES);
  const occurredAt = r.isoTimestamp(o, 'occurredAt', path);
  const customer = r.record(o['customer'], joinPath(path, 'customer'));
  const customerPath = joinPath(path, 'customer');
  const customerEmail = customer === null ? null : r.optionalEmail(customer, 'email', customerPath);
  const customerPhone =
    customer === null
      ? null
      : r.optionalPhone(customer, 'phone', customerPath, options.defaultCountry);
  const customerExternalId =
    customer === null ? null : r.optionalString(customer, 'externalId', customerPath, 256);
  const staffId = r.optionalString(o, 'staffId', path, 256);
  const topic = r.optionalString(o, 'topic', path, 256);
  if (
    customer !== null &&
    r.ok &&
    customerEmail === null &&
    customerPhone === null &&
    customerExternalId === null
  ) {
    r.fail(customerPath, 'required', 'needs at least one of email, phone, externalId');
  }
  if (id === null || type === null || occurredAt === null || customer === null || !r.ok)
    return null;
  const data = {
    contactId: id,
    customerEmail,
    customerPhone,
    customerExternalId,
    staffId,
    topic,
    occurredAt,
  };
  const identifiers = {
    email: customerEmail,
    phone: customerPhone,
    externalId: customerExternalId,
  };
  const eventId = touchpointEventId('other', context.sourceId, type, id);
  switch (type) {
    case 'store.visit': {
      const storeId = r.string(o, 'storeId', path, 256);
      if (storeId === null) return null;
      return touchpointEvent('StoreVisited', eventId, identifiers, {
        ...data,
        storeId,
        storeName: r.optionalString(o, 'storeName', path, 256),
        durationMinutes: r.optionalCount(o, 'durationMinutes', path, 24 * 60),
        outcome: r.optionalString(o, 'outcome', path, 256),
      });
    }
    case 'meeting': {
      const medium =
        o['medium'] === undefined || o['medium'] === null
          ? 'other'
          : r.oneOf(o, 'medium', path, ['in-person', 'video', 'phone', 'other']);
      if (medium === null) return null;
      return touchpointEvent('MeetingHeld', eventId, identifiers, {
        ...data,
        medium,
        durationMinutes: r.optionalCount(o, 'durationMinutes', path, 24 * 60),
        outcome: r.optionalString(o, 'outcome', path, 256),
      });
    }
    case 'support.ticket.opened': {
      const ticketId = r.string(o, 'ticketId', path, 256);
      if (ticketId === null) return null;
      return touchpointEvent('SupportTicketOpened', eventId, identifiers, {
        ...data,
        ticketId,
        subject: r.optionalString(o, 'subject', path, 1000),
        priority: r.optionalString(o, 'priority', path, 64),
        via: r.optionalString(o, 'via', path, 64),
      });
    }
    case 'support.ticket.resolved': {
      const ticketId = r.string(o, 'ticketId', path, 256);
      const outcome = r.string(o, 'outcome', path, 256);
      if (ticketId === null || outcome === null) return null;
      return touchpointEvent('SupportTicketResolved', eventId, identifiers, {
        ...data,
        ticketId,
        outcome,
      });
    }
  }
}
