import { randomUUID } from 'node:crypto';
import type { IngestTopics, OutboundMessage } from '@touchline/messaging';

/** Raw payloads larger than this are kept truncated: enough to see and fix the problem. */
export const MAX_DEAD_LETTER_BYTES = 256 * 1024;

/** A rejected input with the reason. JSON on the wire: the contract itself may be the problem. */
export interface DeadLetter {
  readonly id: string;
  readonly receivedAt: string;
  readonly sourceId: string | null;
  /** Where it was rejected: an HTTP route, or `recorder:<topic>` for a message that could not be read. */
  readonly endpoint: string;
  readonly reasonCode: string;
  readonly reason: string;
  readonly details?: unknown;
  readonly rawBase64: string;
  readonly rawTruncated: boolean;
}

export function newDeadLetter(input: {
  receivedAt: Date;
  sourceId: string | null;
  endpoint: string;
  reasonCode: string;
  reason: string;
  details?: unknown;
  raw: Buffer | string;
}): DeadLetter {
  const raw = typeof input.raw === 'string' ? Buffer.from(input.raw, 'utf8') : input.raw;
  const truncated = raw.length > MAX_DEAD_LETTER_BYTES;
  return {
    id: randomUUID(),
    receivedAt: input.receivedAt.toISOString(),
    sourceId: input.sourceId,
    endpoint: input.endpoint,
    reasonCode: input.reasonCode,
    reason: input.reason,
    details: input.details,
    rawBase64: (truncated ? raw.subarray(0, MAX_DEAD_LETTER_BYTES) : raw).toString('base64'),
    rawTruncated: truncated,
  };
}

export function deadLetterMessage(topics: IngestTopics, letter: DeadLetter): OutboundMessage {
  return {
    topic: topics.deadLetters,
    key: letter.sourceId ?? 'unknown-source',
    value: Buffer.from(JSON.stringify(letter), 'utf8'),
    headers: { 'content-type': 'application/json', 'touchline-kind': 'dead-letter' },
  };
}

export function parseDeadLetter(value: Buffer): DeadLetter | null {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<DeadLetter>;
    if (
      typeof parsed.id !== 'string' ||
      typeof parsed.rawBase64 !== 'string' ||
      typeof parsed.reasonCode !== 'string'
    ) {
      return null;
    }
    return parsed as DeadLetter;
  } catch {
    return null;
  }
}
