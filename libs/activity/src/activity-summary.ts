import { CHANNELS, type Channel } from '@touchline/contracts';

/**
 * Activity summary read model: for one customer key (until identity resolution, the identifier
 * the events arrived with), how many touchpoints per channel and when they were first and last
 * seen. Pure: no clock, no I/O, so a replay gives the same rows as the live projector.
 */
export interface ActivitySummary {
  readonly customerKey: string;
  readonly eventsByChannel: Readonly<Record<Channel, number>>;
  readonly totalEvents: number;
  /** Event time (corrected client time) of the earliest and latest touchpoints. */
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
  /** The latest touchpoint by event time: what the last contact was. */
  readonly lastEventType: string;
  readonly lastChannel: Channel;
  readonly lastEventName: string | null;
}

/** What the projection needs to know of a stored event. */
export interface ActivityTouchpoint {
  readonly customerKey: string;
  readonly eventId: string;
  readonly type: string;
  readonly channel: Channel;
  readonly occurredAt: Date;
  /** Human-readable subject of the touchpoint (the track event name, the page title...). */
  readonly name: string | null;
}

export function emptyChannelCounts(): Record<Channel, number> {
  const counts = {} as Record<Channel, number>;
  for (const channel of CHANNELS) counts[channel] = 0;
  return counts;
}

/**
 * Later events win by event time; equal times are broken by event id so the result does not
 * depend on arrival order.
 */
function isLater(
  touchpoint: ActivityTouchpoint,
  state: ActivitySummary,
  lastEventId: string,
): boolean {
  const diff = touchpoint.occurredAt.getTime() - state.lastSeenAt.getTime();
  return diff > 0 || (diff === 0 && touchpoint.eventId > lastEventId);
}

export interface ActivityState {
  readonly summary: ActivitySummary;
  /** Id of the event that set the last-contact fields: the tie-break for equal times. */
  readonly lastEventId: string;
}

export function evolveActivity(
  state: ActivityState | null,
  touchpoint: ActivityTouchpoint,
): ActivityState {
  if (state === null) {
    const eventsByChannel = emptyChannelCounts();
    eventsByChannel[touchpoint.channel] = 1;
    return {
      lastEventId: touchpoint.eventId,
      summary: {
        customerKey: touchpoint.customerKey,
        eventsByChannel,
        totalEvents: 1,
        firstSeenAt: touchpoint.occurredAt,
        lastSeenAt: touchpoint.occurredAt,
        lastEventType: touchpoint.type,
        lastChannel: touchpoint.channel,
        lastEventName: touchpoint.name,
      },
    };
  }
  const previous = state.summary;
  const eventsByChannel = { ...previous.eventsByChannel };
  eventsByChannel[touchpoint.channel] += 1;
  const first =
    touchpoint.occurredAt.getTime() < previous.firstSeenAt.getTime()
      ? touchpoint.occurredAt
      : previous.firstSeenAt;
  const later = isLater(touchpoint, previous, state.lastEventId);
  return {
    lastEventId: later ? touchpoint.eventId : state.lastEventId,
    summary: {
      ...previous,
      eventsByChannel,
      totalEvents: previous.totalEvents + 1,
      firstSeenAt: first,
      lastSeenAt: later ? touchpoint.occurredAt : previous.lastSeenAt,
      lastEventType: later ? touchpoint.type : previous.lastEventType,
      lastChannel: later ? touchpoint.channel : previous.lastChannel,
      lastEventName: later ? touchpoint.name : previous.lastEventName,
    },
  };
}
