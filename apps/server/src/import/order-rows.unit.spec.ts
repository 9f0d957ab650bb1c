import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countLines, CsvSplitter, parseMapping, readFileRows } from './file-rows';
import { KNOWN_CURRENCIES } from './row-importer';
import { orderEventFromRow, parseImportDate } from './order-rows';

const context = { sourceId: 'shop', defaultCurrency: 'USD', knownCurrencies: KNOWN_CURRENCIES };

describe('orderEventFromRow', () => {
  it('builds a validated OrderCompleted whose id depends on source, customer and order only', () => {
    const fields = {
      userId: 'ada',
      orderId: 'o-1',
      timestamp: '2024-03-01',
      total: '19.90',
      extra: 'x',
    };
    const a = orderEventFromRow({ line: 2, fields }, context);
    const b = orderEventFromRow({ line: 99, fields }, context);
    expect(a).toMatchObject({
      ok: true,
      event: {
        type: 'OrderCompleted',
        streamId: 'user:ada',
        orderId: 'o-1',
        occurredAt: new Date('2024-03-01T00:00:00Z'),
        data: { orderId: 'o-1', total: '19.90', currency: 'USD', properties: { extra: 'x' } },
      },
    });
    expect(a.ok && b.ok && a.event.eventId).toBe(b.ok && b.event.eventId);
    const otherSource = orderEventFromRow({ line: 2, fields }, { ...context, sourceId: 'crm' });
    expect(otherSource.ok && otherSource.event.eventId).not.toBe(a.ok && a.event.eventId);
  });

  it('derives distinct order ids for same-day rows from (customer, date, line)', () => {
    const row = (line: number) =>
      orderEventFromRow(
        { line, fields: { userId: '7', timestamp: '19970101', total: '1' } },
        context,
      );
    const [first, second] = [row(1), row(2)];
    expect(first.ok && first.event.orderId).toBe('7:19970101:1');
    expect(first.ok && second.ok && first.event.eventId !== second.event.eventId).toBe(true);
  });

  it.each([
    [{ userId: '', timestamp: '2024-01-01', total: '1' }, 'missing-customer'],
    [{ userId: 'a', timestamp: '2024-02-30', total: '1' }, 'bad-date'],
    [{ userId: 'a', timestamp: '2024-01-01', total: '-1' }, 'negative-amount'],
    [{ userId: 'a', timestamp: '2024-01-01', total: '1e3' }, 'bad-amount'],
    [{ userId: 'a', timestamp: '2024-01-01' }, 'missing-amount'],
    [{ userId: 'a', timestamp: '2024-01-01', total: '1', currency: 'ABC' }, 'unknown-currency'],
    [
      { userId: 'a', timestamp: '2024-01-01', total: '1', type: 'refund' },
      'refund-without-order-id',
    ],
    [{ userId: 'a', timestamp: '2024-01-01', total: '1', type: 'gift' }, 'bad-type'],
  ])('rejects %j as %s', (fields, code) => {
    expect(orderEventFromRow({ line: 5, fields }, context)).toMatchObject({
      ok: false,
      rejection: { line: 5, code },
    });
  });

  it('parses the date forms it documents and nothing else', () => {
    expect(parseImportDate('19970930')).toEqual(new Date('1997-09-30T00:00:00Z'));
    expect(parseImportDate('2024-03-01T10:00:00+02:00')).toEqual(new Date('2024-03-01T08:00:00Z'));
    expect(parseImportDate('2024-03-01T10:00:00')).toBeNull(); // no zone: ambiguous
    expect(parseImportDate('03/01/2024')).toBeNull();
  });
});

describe('reading files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'touchline-rows-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('splits quoted CSV fields with delimiters, doubled quotes and line breaks', () => {
    const s = new CsvSplitter(',');
    expect(s.push('a,"b, ""c""",d', 1)).toEqual({ line: 1, values: ['a', 'b, "c"', 'd'] });
    expect(s.push('x,"multi', 2)).toBeNull();
    expect(s.push('line",z', 3)).toEqual({ line: 2, values: ['x', 'multi\nline', 'z'] });
  });

  it('reads CSV with a header, whitespace files with --columns, and JSON lines, mapping columns', async () => {
    const csv = path.join(dir, 'a.csv');
    await writeFile(csv, '\uFEFFcustomer,amount\r\nada,"1,5"\r\nbob\r\n');
    const rows = [];
    for await (const r of readFileRows(csv, {
      format: 'csv',
      delimiter: ',',
      columns: null,
      map: parseMapping('userId=customer'),
    }))
      rows.push(r);
    expect(rows).toEqual([
      { line: 2, fields: { amount: '1,5', userId: 'ada' } },
      { line: 3, error: 'the row has 1 columns, the header 2' },
    ]);
    const ws = path.join(dir, 'cdnow.txt');
    await writeFile(ws, ' 00004 0001 19970101  2   29.33\r\n');
    const wsRows = [];
    for await (const r of readFileRows(ws, {
      format: 'csv',
      delimiter: 'whitespace',
      columns: ['m', 's', 'date', 'cds', 'dollars'],
      map: parseMapping('userId=s,timestamp=date,total=dollars'),
    }))
      wsRows.push(r);
    expect(wsRows).toEqual([
      {
        line: 1,
        fields: { m: '00004', cds: '2', userId: '0001', timestamp: '19970101', total: '29.33' },
      },
    ]);
    const jsonl = path.join(dir, 'a.jsonl');
    await writeFile(jsonl, '{"userId":"ada","total":12.5}\nnot json\n');
    const jsonRows = [];
    for await (const r of readFileRows(jsonl, {
      format: 'jsonl',
      delimiter: ',',
      columns: null,
      map: {},
    }))
      jsonRows.push(r);
    expect(jsonRows).toEqual([
      { line: 1, fields: { userId: 'ada', total: '12.5' } },
      { line: 2, error: 'the line is not valid JSON' },
    ]);
    expect(await countLines(jsonl)).toBe(2);
    expect(() => parseMapping('customer=id')).toThrow(/unknown field/);
  });
});
