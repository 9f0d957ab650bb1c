import { CHANNELS, type Channel } from '@touchline/contracts';

/** Topic names carry a version so an incompatible change can move to a new topic. */
export function channelTopic(channel: Channel): string {
  return `touchline.${channel}.v1`;
}

export const DEAD_LETTER_TOPIC = 'touchline.dead-letters.v1';

export const ALL_INGEST_TOPICS: readonly string[] = [
  ...CHANNELS.map(channelTopic),
  DEAD_LETTER_TOPIC,
];
