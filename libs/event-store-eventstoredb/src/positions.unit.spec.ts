import { START as ESDB_START, type Position } from '@eventstore/db-client';
import { START, compareCheckpoints, type GlobalCheckpoint } from '@touchline/event-store';
import fc from 'fast-check';
import { comparePositions, toCheckpoint, toReadPosition } from './positions';

const at = (n: bigint): Position => ({ commit: n, prepare: n });

describe('checkpoint <-> $all position', () => {
  it('START reads $all from its start', () => {
    expect(toReadPosition(START)).toBe(ESDB_START);
  });

  it("a checkpoint reads from its event's own position (commit == prepare for appends)", () => {
    expect(toReadPosition({ transactionId: 100n, position: 180n })).toEqual(at(180n));
  });

  it("an event's checkpoint is (its append's first position, its own position)", () => {
    expect(toCheckpoint(at(180n), at(100n))).toEqual({ transactionId: 100n, position: 180n });
    expect(toCheckpoint(at(100n), at(100n))).toEqual({ transactionId: 100n, position: 100n });
  });

  it('orders positions by commit, then prepare', () => {
    expect(comparePositions(at(1n), at(2n))).toBe(-1);
    expect(comparePositions({ commit: 2n, prepare: 1n }, { commit: 1n, prepare: 9n })).toBe(1);
    expect(comparePositions({ commit: 2n, prepare: 1n }, { commit: 2n, prepare: 3n })).toBe(-1);
    expect(comparePositions(at(5n), at(5n))).toBe(0);
  });

  // The log as EventStoreDB writes it: appends back to back, each event a record of some size.
  it('checkpoints order events exactly as the log does, and an append shares one transaction id', () => {
    const appends = fc.array(
      fc.array(fc.integer({ min: 40, max: 5_000 }), { minLength: 1, maxLength: 6 }),
      {
        minLength: 1,
        maxLength: 30,
      },
    );
    fc.assert(
      // Never 0: the log starts with the server's epoch record, so no event sits at START.
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), appends, (start, sizes) => {
        let cursor = BigInt(start);
        const log: { append: number; position: Position; checkpoint: GlobalCheckpoint }[] = [];
        sizes.forEach((records, append) => {
          const first = at(cursor);
          for (const size of records) {
            const position = at(cursor);
            log.push({ append, position, checkpoint: toCheckpoint(position, first) });
            cursor += BigInt(size);
          }
        });

        const sorted = [...log].sort((a, b) => compareCheckpoints(a.checkpoint, b.checkpoint));
        expect(sorted).toEqual(log);
        for (const entry of log) {
          const sameAppend = log.filter((other) => other.append === entry.append);
          expect(new Set(sameAppend.map((e) => e.checkpoint.transactionId)).size).toBe(1);
          // Resuming from a checkpoint starts the read at that very event (dropped as seen).
          expect(toReadPosition(entry.checkpoint)).toEqual(entry.position);
          expect(compareCheckpoints(entry.checkpoint, START)).toBe(1);
        }
      }),
    );
  });
});
