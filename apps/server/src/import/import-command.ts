import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { CONTACT_FIELDS } from './contact-fields';
import {
  countLines,
  type FileRowOptions,
  ORDER_FIELDS,
  parseMapping,
  readFileRows,
} from './file-rows';

export type ApiCall = (method: string, route: string, body?: unknown) => Promise<unknown>;

export interface ImportFileOptions {
  readonly file: string;
  readonly format?: string;
  readonly sourceId?: string;
  readonly map?: string;
  readonly delimiter?: string;
  readonly columns?: string;
  readonly currency?: string;
  readonly report?: string;
  readonly batchSize?: string;
  /** Where the progress line goes (stderr); redrawn in place only on a terminal. */
  readonly progress: NodeJS.WriteStream;
}

/** What differs between the kinds of import: the route, the fields, what else the body says. */
interface ImportKind {
  readonly route: string;
  readonly fields: readonly string[];
  readonly body: Readonly<Record<string, unknown>>;
}

export interface ImportSummary {
  readonly file: string;
  readonly sourceId: string;
  readonly rows: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly report: string;
  readonly seconds: number;
}

interface Rejection {
  line: number;
  code: string;
  field: string;
  message: string;
}

function formatOptions(options: ImportFileOptions, fields: readonly string[]): FileRowOptions {
  const format = options.format ?? (options.file.endsWith('.jsonl') ? 'jsonl' : 'csv');
  if (format !== 'csv' && format !== 'jsonl') throw new Error('--format must be csv or jsonl');
  const named: Record<string, string> = { tab: '\t', comma: ',', semicolon: ';', '\\t': '\t' };
  const delimiter = named[options.delimiter ?? ''] ?? options.delimiter ?? ',';
  if (delimiter !== 'whitespace' && delimiter.length !== 1)
    throw new Error('--delimiter must be one character, tab, or whitespace');
  const columns = options.columns ? options.columns.split(',').map((c) => c.trim()) : null;
  return { format, delimiter, columns, map: parseMapping(options.map, fields) };
}

function progressLine(done: number, total: number, startedAt: number): string {
  const seconds = Math.max((Date.now() - startedAt) / 1000, 1e-3);
  const rate = done / seconds;
  const share = total > 0 ? Math.min(done / total, 1) : 0;
  const width = 24;
  const filled = Math.round(share * width);
  const eta = rate > 0 && total > done ? `${Math.ceil((total - done) / rate)}s` : '0s';
  return `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} rows  ${Math.round(rate)} rows/s  ETA ${eta}`;
}

/** `touchline import orders <file>`: rows become OrderCompleted / OrderRefunded events. */
export function importOrders(options: ImportFileOptions, call: ApiCall): Promise<ImportSummary> {
  return importFile(
    options,
    {
      route: '/v1/admin/import/orders',
      fields: ORDER_FIELDS,
      body: options.currency ? { defaultCurrency: options.currency } : {},
    },
    call,
  );
}

/** `touchline import contacts <file>`: rows become visit, meeting, ticket, call, email events. */
export function importContacts(options: ImportFileOptions, call: ApiCall): Promise<ImportSummary> {
  if (options.currency !== undefined) throw new Error('--currency is for import orders only');
  return importFile(
    options,
    { route: '/v1/admin/import/contacts', fields: CONTACT_FIELDS, body: {} },
    call,
  );
}

/**
 * Reads the file as a stream, sends batches of rows to the admin API, writes every rejected row
 * (its line, field and reason) to a JSON-lines report, and shows rows, rows/s and the ETA on
 * stderr while it runs.
 */
async function importFile(
  options: ImportFileOptions,
  kind: ImportKind,
  call: ApiCall,
): Promise<ImportSummary> {
  const fileOptions = formatOptions(options, kind.fields);
  const sourceId = options.sourceId ?? 'import';
  const batchSize = Number(options.batchSize ?? 500);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5_000)
    throw new Error('--batch-size must be an integer from 1 to 5000');
  const reportPath = options.report ?? `touchline-import-${sourceId}-report.jsonl`;
  const totalLines = await countLines(options.file);
  const total = Math.max(
    totalLines - (fileOptions.format === 'csv' && !fileOptions.columns ? 1 : 0),
    0,
  );
  const report = createWriteStream(reportPath, { encoding: 'utf8' });
  const startedAt = Date.now();
  const tty = options.progress.isTTY === true;
  let rows = 0;
  let accepted = 0;
  let rejected = 0;
  let lastDraw = 0;
  const reject = (r: Rejection): void => {
    rejected++;
    report.write(`${JSON.stringify(r)}\n`);
  };
  const draw = (force: boolean): void => {
    if (!tty || (!force && Date.now() - lastDraw < 100)) return;
    lastDraw = Date.now();
    options.progress.write(`\r${progressLine(rows, total, startedAt)}\x1b[K`);
  };
  let batch: { line: number; fields: Record<string, string> }[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const answer = (await call('POST', kind.route, {
      sourceId,
      ...kind.body,
      rows: batch,
    })) as { accepted: number; rejected: Rejection[] };
    accepted += answer.accepted;
    for (const r of answer.rejected) reject(r);
    rows += batch.length;
    batch = [];
    draw(false);
  };
  try {
    for await (const row of readFileRows(options.file, fileOptions)) {
      if ('error' in row) {
        rows++;
        reject({ line: row.line, code: 'unreadable-row', field: '(row)', message: row.error });
        continue;
      }
      batch.push(row);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    report.end();
    await finished(report);
    draw(true);
    if (tty) options.progress.write('\n');
  }
  return {
    file: options.file,
    sourceId,
    rows,
    accepted,
    rejected,
    report: reportPath,
    seconds: (Date.now() - startedAt) / 1000,
  };
}
