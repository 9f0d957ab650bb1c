import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Transaction } from '../summary';

/** The CDNOW files (see their README); TOUCHLINE_CDNOW_DIR overrides the shared copy. */
export function cdnowDataDir(): string {
  return (
    process.env['TOUCHLINE_CDNOW_DIR'] ?? resolve(__dirname, '../../../../../shared/data/cdnow')
  );
}

function parseDate(yyyymmdd: string): Date {
  return new Date(
    Date.UTC(
      Number(yyyymmdd.slice(0, 4)),
      Number(yyyymmdd.slice(4, 6)) - 1,
      Number(yyyymmdd.slice(6, 8)),
    ),
  );
}

function lines(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/));
}

/** CDNOW_sample.txt: master_id, sample_id, date, cds, dollars. Customer id = sample_id without padding. */
export function parseCdnowSample(text: string): Transaction[] {
  return lines(text).map(([, sampleId, date, , dollars]) => ({
    customerId: String(Number(sampleId)),
    at: parseDate(date!),
    amount: Number(dollars),
  }));
}

/** CDNOW_master.txt: header line, then customer_id, date, cds, dollars. */
export function parseCdnowMaster(text: string): Transaction[] {
  return lines(text)
    .slice(1)
    .map(([id, date, , dollars]) => ({
      customerId: String(Number(id)),
      at: parseDate(date!),
      amount: Number(dollars),
    }));
}

export function readCdnowSample(): Transaction[] {
  return parseCdnowSample(readFileSync(join(cdnowDataDir(), 'CDNOW_sample.txt'), 'utf8'));
}

export function readCdnowMaster(): Transaction[] {
  return parseCdnowMaster(readFileSync(join(cdnowDataDir(), 'CDNOW_master.txt'), 'utf8'));
}

export interface PublishedSummaryRow {
  readonly id: string;
  readonly x: number;
  readonly tx: number;
  readonly T: number;
  readonly zbar: number;
}

/** cdnow_customers_summary_with_transactions.csv: ID, x, t_x, T, zbar (2 decimals). */
export function readCdnowPublishedSummary(): PublishedSummaryRow[] {
  const text = readFileSync(
    join(cdnowDataDir(), 'cdnow_customers_summary_with_transactions.csv'),
    'utf8',
  );
  return text
    .split(/\r?\n/)
    .slice(1)
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const [id, x, tx, T, zbar] = l.split(',');
      return { id: id!, x: Number(x), tx: Number(tx), T: Number(T), zbar: Number(zbar) };
    });
}

/** The papers' calibration period: 39 weeks, 1997-01-01 .. 1997-09-30 inclusive. */
export const CDNOW_CALIBRATION = {
  calibrationEnd: new Date(Date.UTC(1997, 8, 30)),
  timeUnitDays: 7,
} as const;
