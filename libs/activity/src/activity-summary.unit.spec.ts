import fc from 'fast-check';
import { CHANNELS } from '@touchline/contracts';
import { evolveActivity, type ActivityState, type ActivityTouchpoint } from './activity-summary';

const touchpoint = (overrides: Partial<ActivityTouchpoint>): ActivityTouchpoint => ({
  customerKey: 'user:ada',
  eventId: 'e1',
  type: 'WebEventTracked',
  channel: 'web',
  occurredAt: new Date('2026-01-01T10:00:00Z'),
  name: 'Signed Up',
  ...overrides,
});

const fold = (events: readonly ActivityTouchpoint[]): ActivityState | null =>
  events.reduce<ActivityState | null>((state, event) => evolveActivity(state, event), null);

describe('activity summary', () => {
  it('given no history, when a touchpoint arrives, then it is the first and the last contact', () => {
    const state = fold([touchpoint({})]);
    expect(state?.summary).toMatchObject({
      totalEvents: 1,
      eventsByChannel: { web: 1, email: 0, phone: 0, other: 0 },
      firstSeenAt: new Date('2026-01-01T10:00:00Z'),
      lastSeenAt: new Date('2026-01-01T10:00:00Z'),
      lastEventName: 'Signed Up',
    });
  });

  it('given a later contact, when an older one arrives late, then the last contact stays the later one', () => {
    const state = fold([
      touchpoint({
        eventId: 'b',
        occurredAt: new Date('2026-01-02T00:00:00Z'),
        channel: 'email',
        name: 'Opened',
      }),
      touchpoint({ eventId: 'a', occurredAt: new Date('2026-01-01T00:00:00Z'), name: 'Viewed' }),
    ]);
    expect(state?.summary).toMatchObject({
      totalEvents: 2,
      firstSeenAt: new Date('2026-01-01T00:00:00Z'),
      lastSeenAt: new Date('2026-01-02T00:00:00Z'),
      lastChannel: 'email',
      lastEventName: 'Opened',
    });
  });

  it('gives the same summary for the same touchpoints in any order', () => {
    const arbitraryTouchpoint = fc.record({
      customerKey: fc.constant('user:ada'),
      eventId: fc.uuid(),
      type: fc.constantFrom('WebEventTracked', 'WebPageViewed'),
      channel: fc.constantFrom(...CHANNELS),
      // Few distinct times so that ties (broken by event id) are common.
      occurredAt: fc
        .integer({ min: 0, max: 5 })
        .map((hour) => new Date(Date.UTC(2026, 0, 1, hour))),
      name: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
    });
    const historyAndPermutation = fc
      .array(arbitraryTouchpoint, { minLength: 1, maxLength: 30 })
      .chain((events) =>
        fc.tuple(
          fc.constant(events),
          fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
        ),
      );
    fc.assert(
      fc.property(historyAndPermutation, ([events, permuted]) => {
        expect(fold(permuted)).toEqual(fold(events));
      }),
    );
  });
});
