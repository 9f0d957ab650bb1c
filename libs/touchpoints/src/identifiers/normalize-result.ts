/** Why a raw identifier is not one. */
export type IdentifierFailureReason =
  | 'not-a-string'
  | 'empty'
  | 'too-long'
  | 'malformed'
  | 'invalid-country'
  | 'too-short'
  | 'not-a-number'
  | 'invalid-number';

export type NormalizeResult =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: IdentifierFailureReason; readonly message: string };

export function failure(reason: IdentifierFailureReason, message: string): NormalizeResult {
  return { ok: false, reason, message };
}
