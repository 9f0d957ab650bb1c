import { normalizeEmail, normalizePhoneE164 } from '../index';

describe('normalizeEmail', () => {
  it.each([
    ['  Jane.Doe+News@Example.COM ', 'jane.doe+news@example.com'],
    ['a@b.co', 'a@b.co'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ['user@bücher.de', 'user@xn--bcher-kva.de'],
  ])('normalizes %j to %j, keeping dots and +tags', (raw, expected) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, value: expected });
  });

  it.each([
    [42, 'not-a-string'],
    ['   ', 'empty'],
    ['no-at-sign', 'malformed'],
    ['a@@b.com', 'malformed'],
    ['a@b@c.com', 'malformed'],
    ['Jane <jane@example.com>', 'malformed'],
    ['.jane@example.com', 'malformed'],
    ['ja..ne@example.com', 'malformed'],
    ['jane@localhost', 'malformed'],
    ['jane@example.123', 'malformed'],
    ['jane@-example.com', 'malformed'],
    ['jane@exa mple.com', 'malformed'],
    [`${'a'.repeat(65)}@example.com`, 'malformed'],
    [`a@${'b'.repeat(250)}.com`, 'too-long'],
  ])('refuses %j (%s)', (raw, reason) => {
    const result = normalizeEmail(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe(reason);
  });
});

describe('normalizePhoneE164', () => {
  it.each([
    ['+44 20 7946 0958', undefined, '+442079460958'],
    ['020 7946 0958', 'GB', '+442079460958'],
    ['00 44 20 7946 0958', 'GB', '+442079460958'],
    ['(415) 555-2671', 'US', '+14155552671'],
    ['+1-415-555-2671', 'FR', '+14155552671'],
  ] as const)('normalizes %j (default %s) to %s', (raw, country, expected) => {
    expect(normalizePhoneE164(raw, country)).toEqual({ ok: true, value: expected });
  });

  it.each([
    [null, undefined, 'not-a-string'],
    ['', undefined, 'empty'],
    ['020 7946 0958', undefined, 'invalid-country'],
    ['client:alice', undefined, 'not-a-number'],
    ['Anonymous', undefined, 'not-a-number'],
    ['+4 2', undefined, 'too-short'],
    ['+266696687', undefined, 'invalid-number'],
    ['1'.repeat(80), 'GB', 'too-long'],
  ] as const)('refuses %j (%s)', (raw, country, reason) => {
    const result = normalizePhoneE164(raw, country);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe(reason);
  });
});
