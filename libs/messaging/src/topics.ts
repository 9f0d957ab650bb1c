import { CHANNELS, type Channel } from '@touchline/contracts';

/**
 * The ingest topics of one Touchline deployment: one per channel, plus dead letters. The prefix
 * lets several deployments (or test runs) share a Kafka cluster; the version suffix lets an
 * incompatible change move to new topics.
 */
export interface IngestTopics {
  readonly prefix: string;
  channel(channel: Channel): string;
  readonly deadLetters: string;
  readonly all: readonly string[];
  /** Consumer group names are namespaced the same way. */
  group(role: string): string;
}

export const DEFAULT_TOPIC_PREFIX = 'touchline';

export function ingestTopics(prefix: string = DEFAULT_TOPIC_PREFIX): IngestTopics {
  if (!/^[a-zA-Z0-9._-]{1,100}$/.test(prefix)) {
    throw new Error(
      `Invalid topic prefix "${prefix}": use letters, digits, '.', '_' or '-' (at most 100)`,
    );
  }
  const channel = (c: Channel): string => `${prefix}.${c}.v1`;
  const deadLetters = `${prefix}.dead-letters.v1`;
  return {
    prefix,
    channel,
    deadLetters,
    all: [...CHANNELS.map(channel), deadLetters],
    group: (role) => `${prefix}-${role}`,
  };
}
