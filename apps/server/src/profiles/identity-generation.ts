import { randomBytes } from 'node:crypto';

/**
 * A value for read_models.identity_generation that no writer has used before. The row names
 * the write the profile tables are at, and a process trusts its in-memory identity graph only
 * when the row holds the value that graph was computed at. A counter would not do: a batch
 * whose transaction was rolled back after its writes, and an unmerge or erasure from another
 * process, can each add one to the same value, and the two different tables would carry one
 * number. 62 random bits (positive in a bigint, never 0, the empty tables' value) make a
 * collision practically impossible.
 */
export function newIdentityGeneration(): bigint {
  return (randomBytes(8).readBigUInt64BE() >> 2n) + 1n;
}
