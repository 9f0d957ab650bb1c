import { domainToASCII } from 'node:url';

import { failure, type NormalizeResult } from './normalize-result';

const MAX_ADDRESS_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;
// dot-atom local part (RFC 5322 atext, plus letters and digits of any script for SMTPUTF8);
// quoted local parts are legal but never seen in practice and are refused.
const LOCAL_PART = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Normalizes an email address for joining identities: trimmed, lowercased (local part too:
 * no mailbox provider in use treats case as significant), internationalized domains in their
 * ASCII (punycode) form.
 *
 * Dots and +tags are kept on purpose: only some providers ignore them (Gmail ignores dots, many
 * do not), a +tag is an address the person chose (and bounces, complaints and suppression lists
 * at the provider refer to the exact address), and folding them would join different people who
 * share a domain. Rules that merge such variants belong to the identity graph, where they can be
 * changed and replayed.
 */
export function normalizeEmail(raw: unknown): NormalizeResult {
  if (typeof raw !== 'string') return failure('not-a-string', 'an email address must be a string');
  const trimmed = raw.trim();
  if (trimmed.length === 0) return failure('empty', 'the email address is empty');
  if (trimmed.length > MAX_ADDRESS_LENGTH) {
    return failure('too-long', `an email address has at most ${MAX_ADDRESS_LENGTH} characters`);
  }
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1 || trimmed.indexOf('@') !== at) {
    return failure('malformed', 'an email address is local-part@domain with a single @');
  }
  const local = trimmed.slice(0, at).toLowerCase();
  const rawDomain = trimmed.slice(at + 1).toLowerCase();
  if (local.length > MAX_LOCAL_LENGTH || !LOCAL_PART.test(local)) {
    return failure('malformed', 'the local part of the email address is not valid');
  }
  // domainToASCII returns '' for what is not a domain; a trailing dot (FQDN) is not an address.
  const domain = /^[\x21-\x7e]*$/.test(rawDomain) ? rawDomain : domainToASCII(rawDomain);
  const labels = domain.split('.');
  if (
    domain.length === 0 ||
    labels.length < 2 ||
    !labels.every((label) => DOMAIN_LABEL.test(label)) ||
    /^[0-9]+$/.test(labels[labels.length - 1] ?? '')
  ) {
    return failure('malformed', 'the domain of the email address is not a valid host name');
  }
  const value = `${local}@${domain}`;
  if (value.length > MAX_ADDRESS_LENGTH) {
    return failure('too-long', `an email address has at most ${MAX_ADDRESS_LENGTH} characters`);
  }
  return { ok: true, value };
}
