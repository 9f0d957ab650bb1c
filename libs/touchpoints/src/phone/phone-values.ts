import { normalizePhoneE164, type CountryCode } from '../identifiers/phone';

/**
 * A party of a call or message: E.164 when it is a phone number, null when it is not one
 * (withheld caller id, a SIP URI, a softphone client name). Not an error: such calls happen.
 */
export function partyOrNull(raw: unknown, defaultCountry?: CountryCode): string | null {
  const result = normalizePhoneE164(raw, defaultCountry);
  return result.ok ? result.value : null;
}
