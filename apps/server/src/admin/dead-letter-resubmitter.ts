import type { IngestTopics, MessagePublisher } from '@touchline/messaging';
import { stableUuid } from '../common/ids';
import { TouchlineException } from '../common/touchline.exception';
import type { CollectorService, ItemResult } from '../collector/collector.service';
import { isJsonObject } from '../collector/segment/segment-message';
import type { DeadLetterStore } from '../dead-letters/dead-letter.store';

export interface ResubmitResult {
  readonly id: string;
  readonly resubmitted: boolean;
  readonly results: readonly ItemResult[];
}

const IMPLIED_TYPES: Record<string, string> = {
  '/v1/track': 'track',
  '/v1/page': 'page',
  '/v1/identify': 'identify',
};

/**
 * Sends a dead letter through the collector again, as it was or with a corrected payload.
 * Messages without a messageId get one derived from the dead letter's id, so resubmitting twice
 * stores nothing twice; rejections are reported, not dead-lettered again.
 */
export class DeadLetterResubmitter {
  constructor(
    private readonly deadLetters: DeadLetterStore,
    private readonly collector: CollectorService,
    private readonly publisher: MessagePublisher,
    private readonly topics: IngestTopics,
  ) {}

  async resubmit(id: string, replacement: unknown): Promise<ResubmitResult> {
    const letter = await this.deadLetters.get(id);
    if (!letter) throw new TouchlineException('NOT_FOUND', `No dead letter ${id}`);
    if (letter.endpoint.startsWith('recorder:')) {
      return this.republishUnreadable(letter.id, letter.details, letter.raw, replacement);
    }
    if (letter.rawTruncated && replacement === undefined) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        'The stored payload was truncated; send the corrected payload',
      );
    }
    const payload = replacement ?? parseJson(letter.raw);
    if (letter.sourceId === null) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        'This dead letter has no source; it cannot be resubmitted',
      );
    }
    const batch = isJsonObject(payload) && Array.isArray(payload['batch']) ? payload : null;
    const results = await this.collector.ingest({
      principal: {
        keyId: 'dead-letter-resubmission',
        role: 'ingestion',
        sourceId: letter.sourceId,
        channel: null,
        rateLimitPerSecond: null,
      },
      endpoint: letter.endpoint,
      receivedAt: new Date(letter.receivedAt),
      messages: batch ? (batch['batch'] as unknown[]) : [payload],
      impliedType: batch ? null : (IMPLIED_TYPES[letter.endpoint] ?? null),
      defaults: batch
        ? {
            context: batch['context'],
            integrations: batch['integrations'],
            sentAt: batch['sentAt'],
          }
        : {},
      correlationId: `dead-letter:${letter.id}`,
      newMessageId: (index) => stableUuid('dead-letter', letter.id, String(index)),
      deadLetterRejections: false,
    });
    const resubmitted = results.length > 0 && results.every((r) => r.status === 'accepted');
    if (resubmitted) await this.deadLetters.markResubmitted(letter.id);
    return { id: letter.id, resubmitted, results };
  }

  /** A message the recorder could not read goes back to its topic unchanged (after a fix in code). */
  private async republishUnreadable(
    id: string,
    details: unknown,
    raw: Buffer,
    replacement: unknown,
  ): Promise<ResubmitResult> {
    if (replacement !== undefined) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        'A message read from a topic is resubmitted as it was; no payload',
      );
    }
    const topic =
      isJsonObject(details) && typeof details['topic'] === 'string' ? details['topic'] : null;
    if (topic === null || !this.topics.all.includes(topic)) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        'The original topic of this dead letter is unknown here',
      );
    }
    await this.publisher.publish([
      { topic, key: id, value: raw, headers: { 'touchline-resubmitted-from': id } },
    ]);
    await this.deadLetters.markResubmitted(id);
    return { id, resubmitted: true, results: [] };
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new TouchlineException(
      'INVALID_REQUEST',
      'The stored payload is not JSON; send the corrected payload',
    );
  }
}
