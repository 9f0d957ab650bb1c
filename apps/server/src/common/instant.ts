/** An ISO-8601 date (`2026-11-01`) or date-time, with or without a zone; `T` or a space. */
const ISO_DATE_OR_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2})(?::?(\d{2}))?)?)?$/i;

/**
 * An ISO-8601 date or date-time as an instant, the same on every server: a date-time without a
 * zone is UTC, as a date alone is UTC midnight. Computed from the fields, never by Date's string
 * parsing, which reads a zone-less date-time in the server's own time zone (one request would
 * mean different instants on two machines). Null when `text` is not such a date, or names no
 * real day and time.
 */
export function parseInstant(text: string): Date | null {
  const parts = ISO_DATE_OR_DATE_TIME.exec(text);
  if (!parts) return null;
  const field = (index: number) => Number(parts[index] ?? 0);
  const [year, month, day] = [field(1), field(2), field(3)];
  const [hour, minute, second] = [field(4), field(5), field(6)];
  const millisecond = Number(`${parts[7] ?? ''}000`.slice(0, 3));
  const offsetMinutes = (parts[8] === '-' ? -1 : 1) * (field(9) * 60 + field(10));
  if (hour > 23 || minute > 59 || second > 59 || Math.abs(offsetMinutes) > 18 * 60) return null;
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  // setUTCFullYear rolls 2026-02-30 over into March: a day that does not exist is not a date.
  if (instant.getUTCMonth() !== month - 1 || instant.getUTCDate() !== day) return null;
  instant.setUTCHours(hour, minute - offsetMinutes, second, millisecond);
  return instant;
}
