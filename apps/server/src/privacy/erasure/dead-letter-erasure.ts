import type { PoolClient } from 'pg';

/**
 * Dead letters keep rejected input raw (to be fixed and resubmitted), so they can hold a person's
 * email, phone or ids. An erasure deletes every dead letter that names one of the customer's
 * identifier values (docs/security.md, "Erasure").
 */

/** Shorter values (`ab`, `42`) would match unrelated input: they are not searched for. */
export const MIN_MATCHED_VALUE_LENGTH = 3;

/** Rows read per round while scanning the candidates. */
const PAGE_SIZE = 200;

export interface IdentifierValue {
  readonly kind: string;
  readonly value: string;
}

/**
 * The values to look for, from canonical identifiers (`email:ada@example.com`, `phone:+44...`,
 * `userId:ada`, `anonymousId:...`, `externalId:crm:123`; an external id is also looked for
 * without its system, as the sender wrote it).
 */
export function identifierValuesOf(identifiers: readonly string[]): IdentifierValue[] {
  const values = new Map<string, IdentifierValue>();
  const add = (kind: string, value: string) => {
    if (value.length >= MIN_MATCHED_VALUE_LENGTH)
      values.set(`${kind}\u0000${value}`, { kind, value });
  };
  for (const identifier of identifiers) {
    const colon = identifier.indexOf(':');
    if (colon < 0) continue;
    const kind = identifier.slice(0, colon);
    const value = identifier.slice(colon + 1);
    add(kind, value);
    if (kind === 'externalId') {
      const systemColon = value.indexOf(':');
      if (systemColon >= 0) add(kind, value.slice(systemColon + 1));
    }
  }
  return [...values.values()];
}

/** Emails and phones are distinctive enough to be found inside free text (a note, a subject). */
const findableInText = (kind: string) => kind === 'email' || kind === 'phone';

const sameValue = (candidate: string, wanted: IdentifierValue) =>
  wanted.kind === 'email'
    ? candidate.trim().toLowerCase() === wanted.value.toLowerCase()
    : candidate.trim() === wanted.value;

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * Whether the text holds the value as a whole token: not inside a longer word, email or number
 * (`x.ada@example.com`, `ada@example.com.au` and `+4416329600001` do not hold `ada@example.com`
 * or `+441632960000`). Emails compare case-insensitively.
 */
export function containsToken(text: string, wanted: IdentifierValue): boolean {
  const haystack = wanted.kind === 'email' ? text.toLowerCase() : text;
  const needle = wanted.kind === 'email' ? wanted.value.toLowerCase() : wanted.value;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    const before = haystack.slice(Math.max(0, at - 1), at);
    const after = haystack.slice(at + needle.length, at + needle.length + 1);
    const next = haystack.slice(at + needle.length + 1, at + needle.length + 2);
    const joinedBefore = WORD_CHAR.test(before) || /[.+\-%@]/.test(before);
    const joinedAfter = WORD_CHAR.test(after) || (/[.\-@]/.test(after) && WORD_CHAR.test(next));
    if (!joinedBefore && !joinedAfter) return true;
  }
  return false;
}

/** Whether a parsed JSON value holds one of the values as a whole string (or number) value. */
function jsonMentions(json: unknown, values: readonly IdentifierValue[]): boolean {
  const pending: unknown[] = [json];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node === 'string' || typeof node === 'number') {
      const text = String(node);
      if (
        values.some(
          (wanted) =>
            sameValue(text, wanted) || (findableInText(wanted.kind) && containsToken(text, wanted)),
        )
      ) {
        return true;
      }
    } else if (Array.isArray(node)) {
      pending.push(...(node as unknown[]));
    } else if (node !== null && typeof node === 'object') {
      pending.push(...Object.values(node as Record<string, unknown>));
    }
  }
  return false;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * Whether a dead letter names one of the values: in its raw input (whole JSON string values when
 * it is JSON; whole tokens when it is not: truncated or malformed JSON, Avro bytes, CSV), its
 * details or its reason.
 */
export function deadLetterMentions(
  letter: { raw: Buffer; details: unknown; reason: string },
  values: readonly IdentifierValue[],
): boolean {
  if (values.length === 0) return false;
  const text = letter.raw.toString('utf8');
  const parsed = parseJson(text);
  const rawMentions = parsed.ok
    ? jsonMentions(parsed.value, values)
    : values.some((wanted) => containsToken(text, wanted));
  return (
    rawMentions ||
    jsonMentions(letter.details, values) ||
    values.some((wanted) => containsToken(letter.reason, wanted))
  );
}

/**
 * Deletes the dead letters naming any of the values; answers how many. PostgreSQL narrows the
 * candidates by substring (case-insensitive, on the escaped bytes so any encoding reads as text);
 * `deadLetterMentions` then decides on whole values.
 */
export async function deleteDeadLettersMentioning(
  client: PoolClient,
  values: readonly IdentifierValue[],
): Promise<number> {
  if (values.length === 0) return 0;
  const table = await client.query<{ present: boolean }>(
    `SELECT to_regclass('ingest.dead_letters') IS NOT NULL AS present`,
  );
  if (!table.rows[0]?.present) return 0;
  const needles = values.map((v) => v.value);
  let deleted = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await client.query<{
      id: string;
      raw_payload: Buffer;
      details: unknown;
      reason: string;
    }>(
      `SELECT id, raw_payload, details, reason FROM ingest.dead_letters d
        WHERE id > $1::uuid
          AND EXISTS (
            SELECT 1 FROM unnest($2::text[]) AS needle
             WHERE strpos(lower(encode(d.raw_payload, 'escape')),
                          lower(encode(convert_to(needle, 'UTF8'), 'escape'))) > 0
                OR strpos(lower(coalesce(d.details::text, '') || d.reason), lower(needle)) > 0)
        ORDER BY id
        LIMIT $3`,
      [after, needles, PAGE_SIZE],
    );
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const naming = rows
      .filter((row) =>
        deadLetterMentions(
          { raw: row.raw_payload, details: row.details, reason: row.reason },
          values,
        ),
      )
      .map((row) => row.id);
    if (naming.length > 0) {
      const result = await client.query(
        'DELETE FROM ingest.dead_letters WHERE id = ANY($1::uuid[])',
        [naming],
      );
      deleted += result.rowCount ?? 0;
    }
    if (rows.length < PAGE_SIZE) break;
  }
  return deleted;
}
