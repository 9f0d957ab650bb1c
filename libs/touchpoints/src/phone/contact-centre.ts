import { touchpointEventId } from '../event-id';
import { touchpointEvent } from '../events';
import type { CountryCode } from '../identifiers/phone';
import { mapBatch } from '../internal/batch';
import { joinPath, type FieldReader, type JsonRecord } from '../internal/reader';
import type { MappingContext, MappingResult } from '../result';
import type { CallEvent } from './twilio';

export interface ContactCentreOptions {
  /** Country for numbers sent without a country prefix. */
  readonly defaultCountry?: CountryCode;
}

export const CONTACT_CENTRE_EVENT_TYPES = [
  'call.started',
  'call.answered',
  'call.ended',
  'call.missed',
  'voicemail.left',
] as const;
const MISSED_REASONS = ['no-answer', 'busy', 'failed', 'canceled', 'abandoned'] as const;

/**
 * Maps the generic contact-centre format (docs/touchpoints.md): `{ "events": [...] }` (at most
 * 500) or one event object. Unlike a provider's callback, this format is ours, so phone numbers
 * that are not valid numbers are errors, not nulls: the sender can fix them.
 */
export function mapContactCentreEvents(
  body: unknown,
  context: MappingContext,
  options: ContactCentreOptions = {},
): MappingResult<CallEvent> {
  return mapBatch<CallEvent>(body, 'events', (r, o, path) => mapOne(r, o, path, context, options));
}

function mapOne(
  r: FieldReader,
  o: JsonRecord,
  path: string,
  context: MappingContext,
  options: ContactCentreOptions,
): CallEvent | null {
  const id = r.string(o, 'id', path, 256);
  const type = r.oneOf(o, 'type', path, CONTACT_CENTRE_EVENT_TYPES);
  const callId = r.string(o, 'callId', path, 256);
  const occurredAt = r.isoTimestamp(o, 'occurredAt', path);
  const direction = r.oneOf(o, 'direction', path, ['inbound', 'outbound']);
  const from = r.optionalPhone(o, 'from', path, options.defaultCountry);
  const to = r.optionalPhone(o, 'to', path, options.defaultCountry);
  const customer = r.optionalRecord(o, 'customer', path);
  const customerPath = joinPath(path, 'customer');
  const customerPhoneGiven =
    customer === null
      ? null
      : r.optionalPhone(customer, 'phone', customerPath, options.defaultCountry);
  const customerExternalId =
    customer === null ? null : r.optionalString(customer, 'externalId', customerPath, 256);
  const agent = r.optionalRecord(o, 'agent', path);
  const agentPath = joinPath(path, 'agent');
  const agentId = agent === null ? null : r.string(agent, 'id', agentPath, 256);
  const agentName = agent === null ? null : r.optionalString(agent, 'name', agentPath, 256);
  const queue = r.optionalString(o, 'queue', path, 256);
  const ivrPath = r.optionalStringArray(o, 'ivrPath', path, 50);
  const topic = r.optionalString(o, 'topic', path, 256);
  if (id === null || type === null || callId === null || occurredAt === null || direction === null)
    return null;
  const customerPhone = customerPhoneGiven ?? (direction === 'inbound' ? from : to);
  if (customerPhone === null && customerExternalId === null) {
    r.fail(
      path === '' ? 'customer' : joinPath(path, 'customer'),
      'required',
      'a customer phone (from/to/customer.phone) or customer.externalId is required to join the call',
    );
    return null;
  }
  const data = {
    provider: 'contact-centre' as const,
    callId,
    direction,
    from,
    to,
    customerPhone,
    customerExternalId,
    agentId,
    agentName,
    queue,
    ivrPath,
    topic,
    occurredAt,
  };
  const identifiers = { email: null, phone: customerPhone, externalId: customerExternalId };
  const eventId = touchpointEventId('phone', context.sourceId, 'contact-centre', id);
  switch (type) {
    case 'call.started':
      return touchpointEvent('CallStarted', eventId, identifiers, {
        ...data,
        providerStatus: null,
      });
    case 'call.answered':
      return touchpointEvent('CallAnswered', eventId, identifiers, data);
    case 'call.ended': {
      const durationSeconds = r.count(o, 'durationSeconds', path, 86_400 * 7);
      const disposition = r.optionalString(o, 'disposition', path, 256);
      if (durationSeconds === null) return null;
      return touchpointEvent('CallEnded', eventId, identifiers, {
        ...data,
        durationSeconds,
        disposition,
      });
    }
    case 'call.missed': {
      const reason = r.oneOf(o, 'reason', path, MISSED_REASONS);
      if (reason === null) return null;
      return touchpointEvent('CallMissed', eventId, identifiers, { ...data, reason });
    }
    case 'voicemail.left': {
      const durationSeconds = r.optionalCount(o, 'durationSeconds', path, 86_400);
      const recordingUrl = r.optionalString(o, 'recordingUrl', path, 2048);
      if (recordingUrl !== null && !/^https?:\/\//i.test(recordingUrl)) {
        r.fail(joinPath(path, 'recordingUrl'), 'url', 'must be an http or https URL');
        return null;
      }
      return touchpointEvent('VoicemailLeft', eventId, identifiers, {
        ...data,
        durationSeconds,
        recordingUrl,
      });
    }
  }
}
