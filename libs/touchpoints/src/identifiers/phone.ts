import { parsePhoneNumberWithError, ParseError, type CountryCode } from 'libphonenumber-js/max';

import { failure, type NormalizeResult } from './normalize-result';

export type { CountryCode };

const MAX_RAW_LENGTH = 64;

/**
 * Normalizes a phone number to E.164 (+<country><number>, digits only). A number without a
 * country prefix needs `defaultCountry` (ISO 3166 alpha-2, e.g. 'GB'); international prefixes
 * (00, 011) are understood. Validity is checked against the full numbering-plan metadata, so
 * a number that cannot exist is refused rather than stored as an identifier that joins nothing.
 */
export function normalizePhoneE164(raw: unknown, defaultCountry?: CountryCode): NormalizeResult {
  if (typeof raw !== 'string') return failure('not-a-string', 'a phone number must be a string');
  const trimmed = raw.trim();
  if (trimmed.length === 0) return failure('empty', 'the phone number is empty');
  if (trimmed.length > MAX_RAW_LENGTH)
    return failure('too-long', `a phone number has at most ${MAX_RAW_LENGTH} characters`);
  try {
    const parsed = parsePhoneNumberWithError(
      trimmed,
      defaultCountry === undefined ? undefined : { defaultCountry },
    );
    if (!parsed.isValid())
      return failure('invalid-number', `${parsed.number} is not a valid phone number`);
    return { ok: true, value: parsed.number };
  } catch (error: unknown) {
    if (error instanceof ParseError) {
      switch (error.message) {
        case 'INVALID_COUNTRY':
          return failure(
            'invalid-country',
            defaultCountry === undefined
              ? 'the number has no valid country code and no default country was given'
              : 'the number has no valid country code',
          );
        case 'TOO_SHORT':
          return failure('too-short', 'the phone number is too short');
        case 'TOO_LONG':
          return failure('too-long', 'the phone number is too long');
        default:
          return failure('not-a-number', 'the value is not a phone number');
      }
    }
    // Anything else the parser might throw is still "not a number" to our callers.
    return failure('not-a-number', 'the value is not a phone number');
  }
}
