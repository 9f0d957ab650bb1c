import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** The field names an order row is mapped to (see docs/customer-value.md). */
export const ORDER_FIELDS = [
  'userId',
  'orderId',
  'type',
  'timestamp',
  'total',
  'currency',
  'productId',
  'sku',
  'name',
  'quantity',
  'price',
] as const;

export interface FileRowOptions {
  readonly format: 'csv' | 'jsonl';
  /** A single character, or 'whitespace' for runs of spaces and tabs (CDNOW's files). */
  readonly delimiter: string;
  /** Column names for a file without a header line; otherwise the first line names them. */
  readonly columns: readonly string[] | null;
  /** Target field → column of the file, e.g. { userId: 'customer_id' }. */
  readonly map: Readonly<Record<string, string>>;
}

export type FileRow =
  | { readonly line: number; readonly fields: Record<string, string> }
  | { readonly line: number; readonly error: string };

/**
 * `userId=customer_id,timestamp=date` → { userId: 'customer_id', timestamp: 'date' }; a field
 * that is not one of `fields` (the order fields unless told) is an error naming them.
 */
export function parseMapping(
  spec: string | undefined,
  fields: readonly string[] = ORDER_FIELDS,
): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of (spec ?? '').split(',').filter((p) => p.trim().length > 0)) {
    const [field, column, extra] = pair.split('=').map((s) => s.trim());
    if (!field || !column || extra !== undefined)
      throw new Error(`--map entries must be field=column, got "${pair}"`);
    if (!fields.includes(field))
      throw new Error(`--map: unknown field "${field}"; the fields are ${fields.join(', ')}`);
    map[field] = column;
  }
  return map;
}

/** Renames a record's columns to the import's fields; unmapped columns keep their names. */
export function mapRecord(
  record: Readonly<Record<string, string>>,
  map: Readonly<Record<string, string>>,
): Record<string, string> {
  const mappedColumns = new Set(Object.values(map));
  const out: Record<string, string> = {};
  for (const [column, value] of Object.entries(record))
    if (!mappedColumns.has(column)) out[column] = value;
  for (const [field, column] of Object.entries(map)) {
    const value = record[column];
    if (value !== undefined) out[field] = value;
  }
  return out;
}

/**
 * Splits CSV text into records (RFC 4180: quoted fields may hold the delimiter, doubled quotes
 * and line breaks). Fed line by line so a large file is never held in memory; returns the
 * records that a line completed, each with the line it started on.
 */
export class CsvSplitter {
  private fields: string[] = [];
  private field = '';
  private quoted = false;
  private startLine = 0;
  private open = false;

  constructor(private readonly delimiter: string) {}

  push(line: string, lineNumber: number): { line: number; values: string[] } | null {
    if (!this.open) {
      this.startLine = lineNumber;
      this.open = true;
    } else {
      this.field += '\n';
    }
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (this.quoted) {
        if (c === '"' && line[i + 1] === '"') {
          this.field += '"';
          i++;
        } else if (c === '"') this.quoted = false;
        else this.field += c;
      } else if (c === '"' && this.field.length === 0) this.quoted = true;
      else if (c === this.delimiter) {
        this.fields.push(this.field);
        this.field = '';
      } else this.field += c;
    }
    if (this.quoted) return null;
    this.fields.push(this.field);
    const values = this.fields;
    this.fields = [];
    this.field = '';
    this.open = false;
    return { line: this.startLine, values };
  }

  /** A quote left open at the end of the file. */
  get unterminated(): number | null {
    return this.open ? this.startLine : null;
  }
}

/** Reads a CSV or JSON-lines file as rows of named text fields, one record at a time. */
export async function* readFileRows(
  path: string,
  options: FileRowOptions,
): AsyncGenerator<FileRow> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let lineNumber = 0;
  let header: readonly string[] | null = options.columns;
  const splitter = options.delimiter === 'whitespace' ? null : new CsvSplitter(options.delimiter);
  for await (const raw of lines) {
    lineNumber++;
    const text = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (options.format === 'jsonl') {
      if (text.trim().length === 0) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        yield { line: lineNumber, error: 'the line is not valid JSON' };
        continue;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        yield { line: lineNumber, error: 'the line is not a JSON object' };
        continue;
      }
      const record: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed)) {
        if (v === null || v === undefined) continue;
        record[k] =
          typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
      }
      yield { line: lineNumber, fields: mapRecord(record, options.map) };
      continue;
    }
    let record: { line: number; values: string[] } | null;
    if (splitter === null) {
      const trimmed = text.trim();
      record = trimmed.length === 0 ? null : { line: lineNumber, values: trimmed.split(/\s+/) };
    } else {
      record =
        text.trim().length === 0 && splitter.unterminated === null
          ? null
          : splitter.push(text, lineNumber);
    }
    if (record === null) continue;
    if (header === null) {
      header = record.values.map((v) => v.trim());
      continue;
    }
    if (record.values.length !== header.length) {
      yield {
        line: record.line,
        error: `the row has ${record.values.length} columns, the header ${header.length}`,
      };
      continue;
    }
    const fields: Record<string, string> = {};
    header.forEach((name, i) => (fields[name] = record.values[i]!));
    yield { line: record.line, fields: mapRecord(fields, options.map) };
  }
  if (splitter?.unterminated != null)
    yield {
      line: splitter.unterminated,
      error: 'a quoted field is not closed before the end of the file',
    };
}

/** Number of lines in a file (for the progress bar's total), read in chunks. */
export async function countLines(path: string): Promise<number> {
  let count = 0;
  let last = 10;
  for await (const chunk of createReadStream(path)) {
    const buffer = chunk as Buffer;
    for (let i = 0; i < buffer.length; i++) if (buffer[i] === 10) count++;
    if (buffer.length > 0) last = buffer[buffer.length - 1]!;
  }
  return last === 10 ? count : count + 1;
}
