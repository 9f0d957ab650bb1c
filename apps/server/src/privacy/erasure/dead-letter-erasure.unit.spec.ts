import {
  containsToken,
  deadLetterMentions,
  identifierValuesOf,
  MIN_MATCHED_VALUE_LENGTH,
} from './dead-letter-erasure';

const values = identifierValuesOf([
  'email:ada@example.com',
  'phone:+441632960001',
  'userId:ada-7',
  'anonymousId:ab',
  'externalId:crm:c-991',
]);
const letter = (raw: string, details: unknown = null, reason = 'event: required') => ({
  raw: Buffer.from(raw, 'utf8'),
  details,
  reason,
});

describe('dead letters naming an erased customer', () => {
  it('looks for every identifier value of at least the minimum length, external ids also bare', () => {
    expect(MIN_MATCHED_VALUE_LENGTH).toBe(3);
    expect(values.map((v) => v.value).sort()).toEqual(
      ['+441632960001', 'ada-7', 'ada@example.com', 'c-991', 'crm:c-991'].sort(),
    );
  });

  it('matches whole JSON string values, emails in any case, anywhere in the document', () => {
    expect(
      deadLetterMentions(letter('{"type":"track","traits":{"email":" Ada@Example.COM "}}'), values),
    ).toBe(true);
    expect(deadLetterMentions(letter('{"userId":"ada-7"}'), values)).toBe(true);
    expect(deadLetterMentions(letter('[{"properties":{"customerId":"c-991"}}]'), values)).toBe(
      true,
    );
    // A user id inside a longer value, or in another case, is someone else.
    expect(deadLetterMentions(letter('{"userId":"ada-77"}'), values)).toBe(false);
    expect(deadLetterMentions(letter('{"userId":"ADA-7"}'), values)).toBe(false);
    expect(deadLetterMentions(letter('{"note":"ticket for ada-7"}'), values)).toBe(false);
    // Short values match nothing: "ab" is in many words.
    expect(deadLetterMentions(letter('{"anonymousId":"ab"}'), values)).toBe(false);
  });

  it('finds emails and phones inside free text, as whole tokens only', () => {
    expect(deadLetterMentions(letter('{"note":"write to ada@example.com."}'), values)).toBe(true);
    expect(deadLetterMentions(letter('{"body":"call +441632960001 today"}'), values)).toBe(true);
    expect(deadLetterMentions(letter('{"note":"grace.ada@example.com"}'), values)).toBe(false);
    expect(deadLetterMentions(letter('{"note":"ada@example.com.au"}'), values)).toBe(false);
    expect(deadLetterMentions(letter('{"phone":"+4416329600012"}'), values)).toBe(false);
  });

  it('matches tokens in input that is not JSON (truncated, CSV, Avro bytes), and in the details', () => {
    expect(deadLetterMentions(letter('{"userId":"ada-7","traits":{"na'), values)).toBe(true);
    expect(deadLetterMentions(letter('line,ada@example.com,Ada'), values)).toBe(true);
    expect(deadLetterMentions(letter('\u0002\u000eada-7\u0000'), values)).toBe(true);
    expect(deadLetterMentions(letter('{"userId":"ada-77","x'), values)).toBe(false);
    expect(
      deadLetterMentions(letter('{}', { rejection: { value: 'ada@example.com' } }), values),
    ).toBe(true);
    expect(deadLetterMentions(letter('{}', null, 'email: ada@example.com is taken'), values)).toBe(
      true,
    );
    expect(deadLetterMentions(letter('{"email":"grace@example.com"}'), values)).toBe(false);
    expect(deadLetterMentions(letter('{"email":"ada@example.com"}'), [])).toBe(false);
  });

  it('compares emails case-insensitively and other values exactly', () => {
    expect(containsToken('X ADA@EXAMPLE.COM y', { kind: 'email', value: 'ada@example.com' })).toBe(
      true,
    );
    expect(containsToken('X ADA-7 y', { kind: 'userId', value: 'ada-7' })).toBe(false);
  });
});
