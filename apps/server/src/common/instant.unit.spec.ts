import { parseInstant } from './instant';

// The tests run in UTC (CI's zone), where Date's string parsing would pass these cases too; the
// function never uses it, so its answers do not depend on the server's time zone.
describe('parseInstant', () => {
  it.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T10:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01 10:00:00.25', '2026-11-01T10:00:00.250Z'],
    ['2026-11-01T10:00:00.123456Z', '2026-11-01T10:00:00.123Z'],
    ['2026-11-01t10:00:00z', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00+02:00', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01T10:00:00-0500', '2026-11-01T15:00:00.000Z'],
    ['2026-11-01T10:00:00+01', '2026-11-01T09:00:00.000Z'],
    ['2026-11-01T00:30:00+01:00', '2026-10-31T23:30:00.000Z'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
  ])('reads %s as %s', (text, expected) => {
    expect(parseInstant(text)?.toISOString()).toBe(expected);
  });

  it.each([
    'yesterday',
    '2026-02-30',
    '2026-13-01T00:00:00Z',
    '2026-11-01T25:00:00Z',
    '2026-11-01T10:60:00Z',
    '2025-02-29',
    '2026-11-01T10:00:00+19:00',
    '2026-11-01T10:00:00 UTC',
    '1 Nov 2026',
    '20261101',
    '',
  ])('refuses %j', (text) => {
    expect(parseInstant(text)).toBeNull();
  });
});
