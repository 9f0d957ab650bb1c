import { createHash } from 'node:crypto';
import type { CountryCode } from '@touchline/touchpoints';
import type { IngestTopics, MessagePublisher, OutboundMessage } from '@touchline/messaging';
import { stableUuid } from '../common/ids';
import { deadLetterMessage, newDeadLetter } from '../dead-letters/dead-letter';
import { envelopeMessage, type EventToPublish } from '../ingest/envelope-message';
import { contactEventsFromRow } from './contact-rows';
import { type ImportRow, orderEventFromRow } from './order-rows';

export const IMPORT_ORDERS_ENDPOINT = '/v1/admin/import/orders';
export const IMPORT_CONTACTS_ENDPOINT = '/v1/admin/import/contacts';

export interface ImportBatch {
  readonly sourceId: string;
  readonly rows: readonly ImportRow[];
  readonly receivedAt: Date;
  readonly correlationId: string;
}

export interface OrderImportBatch extends ImportBatch {
  readonly defaultCurrency: string;
}

/** Why a row was not imported: its line, a code, the field at fault and a message. */
export interface ImportRejection {
  readonly line: number;
  readonly code: string;
  readonly field: string;
  readonly message: string;
}

export interface ImportBatchResult {
  readonly received: number;
  readonly accepted: number;
  readonly rejected: readonly ImportRejection[];
}

/** An event a row became, its data already validated against its contract. */
export type ImportedEvent = Omit<EventToPublish, 'receivedAt' | 'sourceId' | 'correlationId'>;

/** A row becomes one or more events (a contact and the link of its user id), or a rejection. */
export type ImportRowOutcome =
  | { readonly ok: true; readonly events: readonly ImportedEvent[] }
  | { readonly ok: false; readonly rejection: ImportRejection };

/** Every ISO 4217 code this runtime knows. */
export const KNOWN_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/**
 * Imports batches of rows the way the collector ingests calls: good rows become envelopes on
 * their channel's topic, bad ones dead letters with the reason, in one publish. Event and
 * dead-letter ids are derived from the rows, so a repeated import stores nothing new.
 */
export class RowImporter {
  constructor(
    private readonly publisher: MessagePublisher,
    private readonly topics: IngestTopics,
    /** Country of phone numbers in contact rows written without a country prefix. */
    private readonly defaultCountry: CountryCode | null = null,
  ) {}

  importOrders(batch: OrderImportBatch): Promise<ImportBatchResult> {
    const context = {
      sourceId: batch.sourceId,
      defaultCurrency: batch.defaultCurrency,
      knownCurrencies: KNOWN_CURRENCIES,
    };
    return this.importRows(batch, IMPORT_ORDERS_ENDPOINT, [], (row) => {
      const outcome = orderEventFromRow(row, context);
      return outcome.ok
        ? { ok: true, events: [{ ...outcome.event, schemaVersion: 1 }] }
        : { ok: false, rejection: outcome.rejection };
    });
  }

  importContacts(batch: ImportBatch): Promise<ImportBatchResult> {
    return this.importRows(batch, IMPORT_CONTACTS_ENDPOINT, ['contacts'], (row) =>
      contactEventsFromRow(row, {
        sourceId: batch.sourceId,
        ...(this.defaultCountry === null ? {} : { defaultCountry: this.defaultCountry }),
      }),
    );
  }

  /**
   * `deadLetterScope` keeps the dead-letter ids of one kind of row apart from another's; orders
   * have none, so their ids are those of the first version of the import.
   */
  private async importRows(
    batch: ImportBatch,
    endpoint: string,
    deadLetterScope: readonly string[],
    eventsOf: (row: ImportRow) => ImportRowOutcome,
  ): Promise<ImportBatchResult> {
    const outbound: OutboundMessage[] = [];
    const rejected: ImportRejection[] = [];
    for (const row of batch.rows) {
      const outcome = eventsOf(row);
      if (outcome.ok) {
        for (const event of outcome.events)
          outbound.push(
            envelopeMessage(this.topics, {
              ...event,
              receivedAt: batch.receivedAt,
              sourceId: batch.sourceId,
              correlationId: batch.correlationId,
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
            endpoint,
            reasonCode: 'INVALID_IMPORT_ROW',
            reason: `line ${rejection.line}: ${rejection.field}: ${rejection.message}`,
            details: { rejection },
            raw,
          }),
          // The same bad row imported again is the same dead letter.
          id: stableUuid(
            'import-dead-letter',
            ...deadLetterScope,
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
