import { NO_STREAM, type CurrentRevision } from '@eventstore/db-client';
import type { ExpectedVersion } from '@touchline/event-store';
import { revisionAfter, satisfies, toStreamVersion } from './expected-version';

describe('expected versions', () => {
  it.each<[ExpectedVersion, number, boolean]>([
    ['any', -1, true],
    ['any', 7, true],
    ['no_stream', -1, true],
    ['no_stream', 0, false],
    ['stream_exists', -1, false],
    ['stream_exists', 0, true],
    [-1, -1, true],
    [-1, 0, false],
    [2, 2, true],
    [2, 1, false],
    [2, 3, false],
  ])('%p against a stream at %p: %p', (expected, current, ok) => {
    expect(satisfies(expected, current)).toBe(ok);
  });

  it('appends exactly after the revision read: no_stream for a new stream, else the revision', () => {
    expect(revisionAfter(-1)).toBe(NO_STREAM);
    expect(revisionAfter(0)).toBe(0n);
    expect(revisionAfter(41)).toBe(41n);
  });

  it.each<[CurrentRevision, number]>([
    [NO_STREAM, -1],
    [0n, 0],
    [12n, 12],
  ])("EventStoreDB's current revision %p is our version %p", (current, version) => {
    expect(toStreamVersion(current)).toBe(version);
  });
});
