import {
  type ConsentChangedV1,
  type JsonObject,
  validateEventData,
  type ValidationError,
  type ValidationResult,
  type WebEventTrackedV1,
} from '@touchline/contracts';
import { normalizeEmail, normalizePhoneE164 } from '@touchline/touchpoints';

/** The purposes consent is given for; the schema's `allowed` list (a test keeps them equal). */
export const CONSENT_PURPOSES = ['analytics', 'email_marketing', 'phone_marketing'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/** Where a customer can say it; the schema's `allowed` list (a test keeps them equal). */
export const CONSENT_SOURCES = ['web-banner', 'email-link', 'phone', 'admin', 'import'] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

/**
 * Segment `track` event names that become a ConsentChanged: the contract's own name, and the
 * same in Segment's "Object Action" style (like "Order Completed").
 */
export const CONSENT_TRACK_EVENTS: readonly string[] = ['ConsentChanged', 'Consent Changed'];

export const MAX_NOTE_LENGTH = 1000;

/**
 * The standard SMS opt-out keywords (the carriers' and Twilio's list): an incoming SMS that says
 * only one of them withdraws phone marketing. The body is personal free text: it is compared,
 * never logged or copied.
 */
export const SMS_OPT_OUT_KEYWORDS: readonly string[] = [
  'STOP',
  'STOPALL',
  'UNSUBSCRIBE',
  'CANCEL',
  'END',
  'QUIT',
];

/** Whether an SMS body is an opt-out: one keyword, in any case, with surrounding space. */
export function isSmsOptOut(body: unknown): boolean {
  // A keyword is at most 11 characters: a longer body is a message, whatever it contains.
  if (typeof body !== 'string' || body.length > 64) return false;
  return SMS_OPT_OUT_KEYWORDS.includes(body.trim().toUpperCase());
}

export function isConsentTrack(event: string): boolean {
  return CONSENT_TRACK_EVENTS.includes(event);
}

/** What a statement says, however it arrived (track properties or the consent API). */
export interface ConsentFields {
  readonly purpose: ConsentPurpose;
  readonly granted: boolean;
  readonly source: ConsentSource;
  readonly email: string | null;
  readonly phone: string | null;
  readonly externalId: string | null;
  readonly note: string | null;
}

/**
 * Reads the consent fields of one object (track properties, or one item of the consent API).
 * Errors name the field as the sender wrote it (`properties.purpose`) and never quote a value.
 */
export function readConsentFields(
  object: JsonObject,
  prefix: string,
): { ok: true; value: ConsentFields } | { ok: false; errors: ValidationError[] } {
  const errors: ValidationError[] = [];
  const at = (field: string) => (prefix === '' ? field : `${prefix}.${field}`);
  const oneOf = <T extends string>(field: string, allowed: readonly T[]): T => {
    const value = object[field];
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value))
      return value as T;
    errors.push({
      path: at(field),
      rule: value === undefined || value === null ? 'required' : 'enum',
      message: `${at(field)} must be one of ${allowed.join(', ')}`,
    });
    return allowed[0]!;
  };
  const optionalText = (field: string, max: number): string | null => {
    const value = object[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string' || value.length === 0 || value.length > max) {
      errors.push({
        path: at(field),
        rule: 'type',
        message: `${at(field)} must be a string of 1 to ${max} characters`,
      });
      return null;
    }
    return value;
  };

  const purpose = oneOf('purpose', CONSENT_PURPOSES);
  const granted = object['granted'];
  if (typeof granted !== 'boolean') {
    errors.push({
      path: at('granted'),
      rule: granted === undefined || granted === null ? 'required' : 'type',
      message: `${at('granted')} must be true or false`,
    });
  }
  const source = oneOf('source', CONSENT_SOURCES);
  let email = optionalText('email', 320);
  if (email !== null) {
    const normalized = normalizeEmail(email);
    if (normalized.ok) email = normalized.value;
    else {
      errors.push({ path: at('email'), rule: 'type', message: `${at('email')} is not an address` });
      email = null;
    }
  }
  let phone = optionalText('phone', 40);
  if (phone !== null) {
    const normalized = normalizePhoneE164(phone);
    if (normalized.ok) phone = normalized.value;
    else {
      errors.push({
        path: at('phone'),
        rule: 'type',
        message: `${at('phone')} is not an E.164 number (+ and country code)`,
      });
      phone = null;
    }
  }
  const externalId = optionalText('externalId', 200);
  const note = optionalText('note', MAX_NOTE_LENGTH);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { purpose, granted: granted as boolean, source, email, phone, externalId, note },
  };
}

/**
 * A Segment track named ConsentChanged (or "Consent Changed") as the typed event: the purpose,
 * granted and source in its properties (email, phone, externalId and note optional), Segment's
 * ids and times kept, the properties untouched.
 */
export function consentChangedFromTrack(
  track: WebEventTrackedV1,
): ValidationResult<ConsentChangedV1> {
  const fields = readConsentFields(track.properties, 'properties');
  if (!fields.ok) return fields;
  return validateEventData('ConsentChanged', 1, {
    messageId: track.messageId,
    userId: track.userId,
    anonymousId: track.anonymousId,
    ...fields.value,
    properties: track.properties,
    context: track.context,
    integrations: track.integrations,
    timestamp: track.timestamp,
    sentAt: track.sentAt,
    originalTimestamp: track.originalTimestamp,
  });
}

/** The purposes a Segment consent category stands for: its name, lowercased, spaces and dashes as `_`. */
export function purposeOfSegmentCategory(category: string): ConsentPurpose | null {
  const name = category
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return (CONSENT_PURPOSES as readonly string[]).includes(name) ? (name as ConsentPurpose) : null;
}
