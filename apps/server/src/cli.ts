#!/usr/bin/env node
/**
 * `touchline`: the admin CLI. A thin client of the admin API, so it works the same against an
 * embedded instance (whose database lives inside the server process) and a cluster.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { importContacts, importOrders } from './import/import-command';
import {
  PROJECTIONS_HELP,
  projectionsCommand,
  ProjectionsCliError,
} from './operations/projections-cli';
import {
  REPUBLISH_CLI_OPTIONS,
  REPUBLISH_HELP,
  republishCommand,
  RepublishCliError,
} from './operations/republish/republish-cli';
import { CHURN_CLI_OPTIONS, CHURN_HELP, churnCommand, ChurnCliError } from './churn/churn-cli';
import {
  CROSS_SELL_CLI_OPTIONS,
  CROSS_SELL_HELP,
  crossSellCommand,
  CrossSellCliError,
} from './cross-sell/cross-sell-cli';

const HELP = `Usage: touchline <command> [options]

Commands:
  keys list                                   list API and write keys (never the secrets)
  keys create --role analyst|admin --label L [--expires ISO-DATE]
  keys revoke <key-id>
  sources create <source-id> --channel web|email|phone|other [--label L] [--rate-limit N]
  dead-letters list [--limit N] [--before CURSOR]
  dead-letters show <id>
  dead-letters resubmit <id> [--payload FILE.json]
  audit [--limit N]
${PROJECTIONS_HELP}
${REPUBLISH_HELP}
  import orders <file> [--format csv|jsonl] [--source ID] [--map field=column,...]
      [--delimiter C|tab|whitespace] [--columns a,b,...] [--currency USD]
      [--report FILE] [--batch-size 500]      rows become OrderCompleted / OrderRefunded events
  import contacts <file> [--format csv|jsonl] [--source ID] [--map field=column,...]
      [--delimiter C|tab|whitespace] [--columns a,b,...] [--report FILE] [--batch-size 500]
                                              rows become visit, meeting, ticket, call, email events
  clv fit --as-of YYYY-MM-DD [--time-unit-days 7] [--horizon 52] [--period-length 1]
      [--discount 0] [--min-customers 10]     fit BG/NBD + Gamma-Gamma and score every customer
  value top [--by clv|netRevenue] [--limit N] the most valuable customers
  value show <customer-id>                    historical value and the latest scores
  value prospects [--stage lead|first-order] [--limit N] [--cursor C]
                                              promising prospects: no or one order, engaged
  value risks [--by clv|netRevenue] [--limit N] [--cursor C]
                                              the most valuable customers at risk of leaving
${CHURN_HELP}
${CROSS_SELL_HELP}
  identity unmerge --link ID | --event ID | --between userId:a,anonymousId:b [--reason R]
                                              undo a merge (ids from GET /v1/profiles/{id}/merges)
  identity revocations                        the merges an admin undid
  erase <customer-id>                         erase a customer for good (right to be forgotten):
                                              destroys its keys, deletes its read-model rows

Options:
  --url URL    the Touchline server (env TOUCHLINE_URL, default http://127.0.0.1:8080)
  --key KEY    an admin API key (env TOUCHLINE_API_KEY, default: apiKey in ./data/credentials.json)
  --json       print the raw JSON answer
`;

type Options = { url: string; key: string; json: boolean };

class CliError extends Error {}

function adminKey(explicit: string | undefined): string {
  const key = explicit ?? process.env['TOUCHLINE_API_KEY'];
  if (key) return key;
  const file = path.resolve(process.env['TOUCHLINE_DATA_DIR'] ?? './data', 'credentials.json');
  try {
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as { apiKey?: unknown };
    if (typeof credentials.apiKey === 'string') return credentials.apiKey;
  } catch {
    // fall through to the message below
  }
  throw new CliError(
    `No admin key: pass --key, set TOUCHLINE_API_KEY, or run where ${file} exists.`,
  );
}

async function call(
  options: Options,
  method: string,
  route: string,
  body?: unknown,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${options.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${options.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new CliError(
      `Cannot reach ${options.url}: is Touchline running? (npm start, or pass --url)`,
    );
  }
  const answer = (await response.json().catch(() => null)) as {
    error?: { code: string; message: string };
  } | null;
  if (!response.ok) {
    throw new CliError(
      `${response.status} ${answer?.error?.code ?? ''}: ${answer?.error?.message ?? response.statusText}`,
    );
  }
  return answer;
}

function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (value: unknown): string => {
    if (value === null || value === undefined) return '-';
    if (typeof value === 'string') return value;
    return JSON.stringify(value);
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

async function run(argv: readonly string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean', default: false },
      role: { type: 'string' },
      label: { type: 'string' },
      expires: { type: 'string' },
      channel: { type: 'string' },
      'rate-limit': { type: 'string' },
      limit: { type: 'string' },
      before: { type: 'string' },
      payload: { type: 'string' },
      format: { type: 'string' },
      source: { type: 'string' },
      map: { type: 'string' },
      delimiter: { type: 'string' },
      columns: { type: 'string' },
      currency: { type: 'string' },
      report: { type: 'string' },
      'batch-size': { type: 'string' },
      'as-of': { type: 'string' },
      'time-unit-days': { type: 'string' },
      horizon: { type: 'string' },
      'period-length': { type: 'string' },
      discount: { type: 'string' },
      'min-customers': { type: 'string' },
      by: { type: 'string' },
      stage: { type: 'string' },
      to: { type: 'string' },
      until: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'blue-green': { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      link: { type: 'string' },
      event: { type: 'string' },
      between: { type: 'string' },
      reason: { type: 'string' },
      detach: { type: 'boolean', default: false },
      ...CHURN_CLI_OPTIONS,
      ...CROSS_SELL_CLI_OPTIONS,
      ...REPUBLISH_CLI_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [group, action, target] = positionals;
  if (values.help || !group) return HELP;
  const options: Options = {
    url: (values.url ?? process.env['TOUCHLINE_URL'] ?? 'http://127.0.0.1:8080').replace(/\/$/, ''),
    key: adminKey(values.key),
    json: values.json ?? false,
  };
  const show = (answer: unknown, render: () => string): string =>
    options.json ? JSON.stringify(answer, null, 2) : render();
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new CliError(`Missing ${what}.\n\n${HELP}`);
    return value;
  };

  if (group === 'erase') {
    // `erase <customer-id>`: the id is the second word.
    const customerId = need(action, 'the customer id (from GET /v1/profiles/lookup)');
    const answer = (await call(
      options,
      'POST',
      `/v1/admin/customers/${encodeURIComponent(customerId)}/erasure`,
    )) as { customerId: string; status: string; message: string };
    return show(answer, () => `Customer ${answer.customerId}: ${answer.message}`);
  }

  switch (`${group} ${action ?? ''}`.trim()) {
    case 'keys list': {
      const answer = (await call(options, 'GET', '/v1/admin/keys')) as {
        items: Record<string, unknown>[];
      };
      return show(answer, () =>
        table(answer.items, [
          'keyId',
          'role',
          'sourceId',
          'channel',
          'label',
          'expiresAt',
          'revokedAt',
        ]),
      );
    }
    case 'keys create': {
      const answer = (await call(options, 'POST', '/v1/admin/keys', {
        role: need(values.role, '--role'),
        label: need(values.label, '--label'),
        ...(values.expires ? { expiresAt: values.expires } : {}),
      })) as { key: string; keyId: string };
      return show(
        answer,
        () => `Created key ${answer.keyId}. The key is shown once; keep it secret:\n${answer.key}`,
      );
    }
    case 'keys revoke': {
      const answer = (await call(
        options,
        'DELETE',
        `/v1/admin/keys/${encodeURIComponent(need(target, 'the key id'))}`,
      )) as { message: string };
      return show(answer, () => `Key ${target}: ${answer.message}`);
    }
    case 'sources create': {
      const rateLimit = values['rate-limit'];
      const answer = (await call(options, 'POST', '/v1/admin/sources', {
        sourceId: need(target, 'the source id'),
        channel: need(values.channel, '--channel'),
        ...(values.label ? { label: values.label } : {}),
        ...(rateLimit ? { rateLimitPerSecond: Number(rateLimit) } : {}),
      })) as { key: string; keyId: string };
      return show(
        answer,
        () =>
          `Created source ${target} (key ${answer.keyId}). Its write key is shown once:\n${answer.key}`,
      );
    }
    case 'dead-letters list': {
      const query = new URLSearchParams({
        ...(values.limit ? { limit: values.limit } : {}),
        ...(values.before ? { before: values.before } : {}),
      });
      const answer = (await call(options, 'GET', `/v1/admin/dead-letters?${query.toString()}`)) as {
        items: Record<string, unknown>[];
        next: string | null;
      };
      return show(
        answer,
        () =>
          `${table(answer.items, ['id', 'receivedAt', 'sourceId', 'endpoint', 'reasonCode', 'rawBytes', 'resubmittedAt'])}${answer.next ? `\nmore: --before ${answer.next}` : ''}`,
      );
    }
    case 'dead-letters show': {
      const answer = (await call(
        options,
        'GET',
        `/v1/admin/dead-letters/${encodeURIComponent(need(target, 'the dead letter id'))}`,
      )) as Record<string, unknown> & {
        reason: string;
        rawText: string | null;
        rawBase64: string;
      };
      return show(
        answer,
        () =>
          `${table([answer], ['id', 'receivedAt', 'sourceId', 'endpoint', 'reasonCode'])}\nreason: ${answer.reason}\npayload:\n${answer.rawText ?? `(binary, base64) ${answer.rawBase64}`}`,
      );
    }
    case 'dead-letters resubmit': {
      const body = values.payload
        ? { payload: JSON.parse(readFileSync(values.payload, 'utf8')) as unknown }
        : {};
      const answer = (await call(
        options,
        'POST',
        `/v1/admin/dead-letters/${encodeURIComponent(need(target, 'the dead letter id'))}/resubmit`,
        body,
      )) as {
        resubmitted: boolean;
        results: Record<string, unknown>[];
      };
      return show(
        answer,
        () =>
          `${answer.resubmitted ? 'Resubmitted.' : 'Not resubmitted: some messages are still rejected.'}\n${table(
            answer.results.map((r) => ({ ...r, errors: JSON.stringify(r['errors'] ?? []) })),
            ['index', 'messageId', 'status', 'errors'],
          )}`,
      );
    }
    case 'audit': {
      const answer = (await call(
        options,
        'GET',
        `/v1/admin/audit${values.limit ? `?limit=${values.limit}` : ''}`,
      )) as { items: Record<string, unknown>[] };
      return show(answer, () =>
        table(answer.items, ['id', 'at', 'actorKeyId', 'action', 'target', 'outcome']),
      );
    }
    case 'import orders':
    case 'import contacts': {
      let summary;
      try {
        summary = await (action === 'contacts' ? importContacts : importOrders)(
          {
            file: need(target, 'the file to import'),
            format: values.format,
            sourceId: values.source,
            map: values.map,
            delimiter: values.delimiter,
            columns: values.columns,
            currency: values.currency,
            report: values.report,
            batchSize: values['batch-size'],
            progress: process.stderr,
          },
          (method, route, body) => call(options, method, route, body),
        );
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(error instanceof Error ? error.message : String(error));
      }
      return show(
        summary,
        () =>
          `Imported ${summary.file} as source ${summary.sourceId}: ${summary.rows} rows, ${summary.accepted} accepted, ${summary.rejected} rejected (${summary.seconds.toFixed(1)} s).\nRejected rows and why: ${summary.report}`,
      );
    }
    case 'clv fit': {
      const number = (value: string | undefined) =>
        value === undefined ? undefined : Number(value);
      const answer = (await call(options, 'POST', '/v1/admin/models/clv/fit', {
        calibrationEnd: need(values['as-of'], '--as-of'),
        timeUnitDays: number(values['time-unit-days']),
        horizonPeriods: number(values.horizon),
        periodLength: number(values['period-length']),
        discountRatePerPeriod: number(values.discount),
        minCustomers: number(values['min-customers']),
      })) as {
        id: string;
        customers: number;
        bgNbd: { modelVersion: string; parameters: Record<string, number>; logLikelihood: number };
        gammaGamma: { modelVersion: string; parameters: Record<string, number> };
      };
      return show(
        answer,
        () =>
          `Fit ${answer.id} on ${answer.customers} customers.\n${answer.bgNbd.modelVersion}: ${JSON.stringify(answer.bgNbd.parameters)} (log-likelihood ${answer.bgNbd.logLikelihood.toFixed(2)})\n${answer.gammaGamma.modelVersion}: ${JSON.stringify(answer.gammaGamma.parameters)}`,
      );
    }
    case 'value top': {
      const query = new URLSearchParams({
        by: values.by ?? 'clv',
        ...(values.limit ? { limit: values.limit } : {}),
      });
      const answer = (await call(options, 'GET', `/v1/value/top?${query.toString()}`)) as {
        items: Record<string, unknown>[];
      };
      return show(answer, () =>
        table(answer.items, ['rank', 'customerKey', 'clv', 'pAlive', 'netRevenue', 'orderCount']),
      );
    }
    case 'value prospects':
    case 'value risks': {
      const prospects = action === 'prospects';
      const query = new URLSearchParams({
        ...(prospects && values.stage ? { stage: values.stage } : {}),
        ...(!prospects && values.by ? { by: values.by } : {}),
        ...(values.limit ? { limit: values.limit } : {}),
        ...(values.cursor ? { cursor: values.cursor } : {}),
      });
      const answer = (await call(
        options,
        'GET',
        `/v1/value/${prospects ? 'prospects' : 'risks'}?${query.toString()}`,
      )) as { items: Record<string, unknown>[]; nextCursor: string | null };
      const columns = prospects
        ? ['customerId', 'stage', 'score', 'orders', 'totalEvents', 'channels', 'lastSeenAt']
        : ['customerId', 'risk', 'clvAtRisk', 'revenueAtRisk', 'clv', 'netRevenue', 'reasonCodes'];
      return show(
        answer,
        () =>
          `${table(answer.items, columns)}${answer.nextCursor ? `\nmore: --cursor ${answer.nextCursor}` : ''}`,
      );
    }
    case 'value show': {
      const answer = await call(
        options,
        'GET',
        `/v1/customers/${encodeURIComponent(need(target, 'the customer id'))}/value`,
      );
      return JSON.stringify(answer, null, 2);
    }
    case 'identity unmerge': {
      const body = {
        ...(values.link === undefined ? {} : { linkId: values.link }),
        ...(values.event === undefined ? {} : { eventId: values.event }),
        ...(values.between === undefined ? {} : { between: values.between.split(',') }),
        ...(values.reason === undefined ? {} : { reason: values.reason }),
      };
      const answer = (await call(options, 'POST', '/v1/admin/identity/unmerge', body)) as {
        applied: boolean;
        moved: { identifier: string; from: string | null; to: string | null }[];
        customers: string[];
      };
      return show(answer, () =>
        answer.applied
          ? `Unmerged: ${answer.moved.length} identifier(s) moved; profiles recomputed: ${answer.customers.join(', ')}\n${table(answer.moved, ['identifier', 'from', 'to'])}`
          : 'Already undone before: nothing changed.',
      );
    }
    case 'identity revocations': {
      const answer = (await call(options, 'GET', '/v1/admin/identity/revocations')) as Record<
        string,
        unknown
      >[];
      return show(answer, () => table(answer, ['requestedAt', 'requestedBy', 'target', 'reason']));
    }
    case 'cross-sell compute':
    case 'cross-sell affinity':
    case 'cross-sell candidates':
    case 'cross-sell customer':
      return crossSellCommand(
        action,
        target,
        values,
        (method, route, body) => call(options, method, route, body),
        table,
      ).catch((error: unknown) => {
        throw error instanceof CrossSellCliError ? new CliError(error.message) : error;
      });
    case 'churn evaluate':
    case 'churn list':
    case 'churn show':
    case 'churn evaluations':
      return churnCommand(
        action,
        target,
        values,
        (method, route, body) => call(options, method, route, body),
        table,
        { progress: process.stderr },
      ).catch((error: unknown) => {
        throw error instanceof ChurnCliError ? new CliError(error.message) : error;
      });
    case 'republish start':
    case 'republish show':
    case 'republish cancel':
      return republishCommand(
        action,
        target,
        values,
        { json: options.json, progress: process.stderr },
        (method, route, body) => call(options, method, route, body),
      ).catch((error: unknown) => {
        throw error instanceof RepublishCliError ? new CliError(error.message) : error;
      });
    case 'projections list':
    case 'projections show':
    case 'projections rebuild':
    case 'projections cancel':
    case 'projections reset':
    case 'projections rollback':
    case 'projections drop-previous':
      return projectionsCommand(
        action,
        target,
        {
          json: options.json,
          ...(values.to === undefined ? {} : { to: values.to }),
          ...(values.until === undefined ? {} : { until: values.until }),
          resume: values.resume ?? false,
          strategy: values['dry-run']
            ? 'dry-run'
            : values['blue-green']
              ? 'blue-green'
              : 'in-place',
          detach: values.detach ?? false,
          progress: process.stderr,
        },
        (method, route, body) => call(options, method, route, body),
        table,
      ).catch((error: unknown) => {
        throw error instanceof ProjectionsCliError ? new CliError(error.message) : error;
      });
    default:
      throw new CliError(`Unknown command "${positionals.join(' ')}".\n\n${HELP}`);
  }
}

run(process.argv.slice(2)).then(
  (output) => process.stdout.write(`${output}\n`),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof CliError ? error.message : error instanceof Error ? `Unexpected error: ${error.message}` : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
