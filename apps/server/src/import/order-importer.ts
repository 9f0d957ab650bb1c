import { createHash } from 'node:crypto';
import type { IngestTopics, MessagePublisher, OutboundMessage } from '@touchline/messaging';
import { stableUuid } from '../common/ids';
import { deadLetterMessage, newDeadLetter } from '../dead-letters/dead-letter';
import { envelopeMessage } from '../ingest/envelope-message';
import { type ImportRow, orderEventFromRow, type RowRejection } from './order-rows';

export const IMPORT_ORDERS_ENDPOINT = '/v1/admin/import/orders';

export interface ImportBatch {
  readonly sourceId: string;
  readonly defaultCurrency: string;
  readonly rows: readonly ImportRow[];
  readonly receivedAt: Date;
  readonly correlationId: string;
}

export interface ImportBatchResult {
  readonly received: number;
  readonly accepted: number;
  readonly rejected: readonly RowRejection[];
}

/** Every ISO 4217 code this runtime knows. */
export const KNOWN_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/**
 * Imports a batch of order rows the way the collector ingests calls: good rows become envelopes
 * on their channel's topic, bad ones dead letters with the reason, in one publish. Event and
 * dead-letter ids are derived from the rows, so a repeated import stores nothing new.
 */
export class OrderImporter {
  constructor(
    private readonly publisher: MessagePublisher,
    private readonly topics: IngestTopics,
  ) {}

  async importOrders(batch: ImportBatch): Promise<ImportBatchResult> {
    const outbound: OutboundMessage[] = [];
    const rejected: RowRejection[] = [];
    const context = {
      sourceId: batch.sourceId,
      defaultCurrency: batch.defaultCurrency,
      knownCurrencies: KNOWN_CURRENCIES,
    };
    for (const row of batch.rows) {
      const outcome = orderEventFromRow(row, context);
      if (outcome.ok) {
        const { event } = outcome;
        outbound.push(
          envelopeMessage(this.topics, {
            eventId: event.eventId,
            type: event.type,
            schemaVersion: 1,
            channel: event.channel,
            streamId: event.streamId,
            occurredAt: event.occurredAt,
            receivedAt: batch.receivedAt,
            sourceId: batch.sourceId,
            correlationId: batch.correlationId,
            data: event.data,
          }),
        );
        continue;
      }
      const { rejection } = outcome;
      rejected.push(rejection);
      const raw = JSON.stringify(row);
      outbound.push(
        deadLetterMessage(this.topics, {
          ...newDeadLetter({
            receivedAt: batch.receivedAt,
            sourceId: batch.sourceId,
            endpoint: IMPORT_ORDERS_ENDPOINT,
            reasonCode: 'INVALID_IMPORT_ROW',
            reason: `line ${rejection.line}: ${rejection.field}: ${rejection.message}`,
            details: { rejection },
            raw,
          }),
          // The same bad row imported again is the same dead letter.
          id: stableUuid(
            'import-dead-letter',
            batch.sourceId,
            String(row.line),
            createHash('sha256').update(raw).digest('hex'),
          ),
        }),
      );
    }
    if (outbound.length > 0) await this.publisher.publish(outbound);
    return { received: batch.rows.length, accepted: batch.rows.length - rejected.length, rejected };
  }
}
