import type { RecordedEvent } from '@touchline/event-store';
import { activityProjection } from './activity.projection';
import type { Projection } from './projection';
import { fairShare } from './segment-balancer';
import { projectionsToRun } from './projector.service';
import {
  parseSegmentName,
  parseSegmentsSetting,
  ProjectionSegment,
  SegmentSettingError,
  segmentName,
  segmentOf,
} from './segments';

const event = (streamId: string, eventId = `e-${streamId}`): RecordedEvent =>
  ({
    streamId,
    eventId,
    type: 'WebPageViewed',
    data: {},
    metadata: {},
  }) as unknown as RecordedEvent;

const unsplittable: Projection = { name: 'customer_profiles', version: 1, apply: async () => {} };

describe('projection segments', () => {
  it('assigns every key to exactly one segment, the same one every time, spread roughly evenly', () => {
    const keys = Array.from({ length: 4_000 }, (_, i) => `user:${i}`);
    const counts = [0, 0, 0, 0];
    for (const key of keys) {
      const segment = segmentOf(key, 4);
      expect(segmentOf(key, 4)).toBe(segment);
      counts[segment] = (counts[segment] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
    expect(segmentOf('user:1', 1)).toBe(0);
  });

  it('gives each segment only its own keys; the segments together see every event once', async () => {
    const seen: string[][] = [];
    const base = {
      name: 'keyed',
      version: 1,
      segmentKey: (e: RecordedEvent) => (e.streamId.startsWith('none') ? null : e.streamId),
      apply: (_client: unknown, events: readonly RecordedEvent[]) => {
        seen.push(events.map((e) => e.eventId));
        return Promise.resolve();
      },
    };
    const events = [...Array.from({ length: 50 }, (_, i) => event(`user:${i}`)), event('none-1')];
    const segments = [0, 1, 2].map((i) => new ProjectionSegment(base, i, 3));
    for (const segment of segments) await segment.apply(null as never, events);
    const all = seen.flat().sort();
    expect(all).toEqual(events.map((e) => e.eventId).sort());
    // A keyless event goes to segment 0, never lost and never twice.
    expect(seen[0]).toContain('e-none-1');
    expect(segments.map((s) => s.name)).toEqual(['keyed#0/3', 'keyed#1/3', 'keyed#2/3']);
  });

  it('names segments so that the name parses back, and plain names do not parse', () => {
    expect(parseSegmentName(segmentName('customer_activity', 2, 4))).toEqual({
      projection: 'customer_activity',
      index: 2,
      count: 4,
    });
    expect(parseSegmentName('customer_activity')).toBeNull();
  });

  it('reads TOUCHLINE_PROJECTION_SEGMENTS and refuses what it cannot do, by name', () => {
    const projections = [activityProjection, unsplittable];
    expect(parseSegmentsSetting(undefined, projections).size).toBe(0);
    expect([...parseSegmentsSetting(' customer_activity = 4 ', projections)]).toEqual([
      ['customer_activity', 4],
    ]);
    expect(() => parseSegmentsSetting('customer_profiles=2', projections)).toThrow(
      /customer_profiles cannot run as segments/,
    );
    expect(() => parseSegmentsSetting('nope=2', projections)).toThrow(/no projection named "nope"/);
    expect(() => parseSegmentsSetting('customer_activity=0', projections)).toThrow(/out of range/);
    expect(() => parseSegmentsSetting('customer_activity:4', projections)).toThrow(
      SegmentSettingError,
    );
  });

  it('shares segments so that the live instances together own each exactly once', () => {
    for (let segments = 1; segments <= 9; segments++) {
      for (let live = 1; live <= 5; live++) {
        const shares = Array.from({ length: live }, (_, rank) => fairShare(segments, live, rank));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(segments);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('reads TOUCHLINE_PROJECTIONS: all by default, the named ones, and refuses unknown names', () => {
    const projections = [activityProjection, unsplittable];
    expect([...projectionsToRun(undefined, projections)]).toEqual([
      'customer_activity',
      'customer_profiles',
    ]);
    expect([...projectionsToRun(' customer_activity ', projections)]).toEqual([
      'customer_activity',
    ]);
    expect(() => projectionsToRun('customer_activity,nope', projections)).toThrow(
      /no projection named "nope"; known: customer_activity, customer_profiles/,
    );
    expect(() => projectionsToRun(',', projections)).toThrow(/names no projection/);
  });
});
