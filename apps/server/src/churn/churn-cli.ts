/**
 * `touchline churn ...`: evaluate (with a progress bar while the server works through the
 * customers), list, show, evaluations. Only talks to the API; the evaluation runs in the
 * server, so closing the CLI does not stop it.
 */
import { readFileSync } from 'node:fs';

export type ApiCall = (method: string, route: string, body?: unknown) => Promise<unknown>;

/** Options of its own for parseArgs (`--reason`, `--limit`, `--as-of` and `--detach` are shared). */
export const CHURN_CLI_OPTIONS = {
  sort: { type: 'string' },
  config: { type: 'string' },
  cursor: { type: 'string' },
} as const;

export const CHURN_HELP = `  churn evaluate [--as-of YYYY-MM-DD|ISO] [--config overrides.json] [--detach]
                                              raise and clear churn flags, with progress
  churn list [--reason CODE,...] [--sort risk|since] [--limit N] [--cursor C]
                                              customers likely to leave, with reasons
  churn show <customer-id>                    one customer's flag and its history
  churn evaluations [--limit N]               the latest evaluations`;

export class ChurnCliError extends Error {}

export interface ChurnCliValues {
  readonly json?: boolean;
  readonly 'as-of'?: string;
  readonly config?: string;
  readonly detach?: boolean;
  readonly reason?: string;
  readonly sort?: string;
  readonly limit?: string;
  readonly cursor?: string;
}

export interface ChurnCliIo {
  /** Where the progress bar goes (stderr), so stdout keeps only the answer. */
  readonly progress: { write(text: string): unknown; isTTY?: boolean };
  readonly pollMs?: number;
}

type Render = (rows: readonly Record<string, unknown>[], columns: readonly string[]) => string;

interface EvaluationView {
  id: string;
  status: string;
  asOf: string;
  model: {
    status: string;
    fitId?: string;
    modelVersion?: string;
    calibrationEnd?: string;
    message?: string;
  };
  customers: { total: number; evaluated: number };
  progress: { percent: number; customersPerSecond: number | null; etaSeconds: number | null };
  raised: number;
  cleared: number;
  flagged: number | null;
  error: string | null;
}

interface FlagView {
  customerId: string;
  risk: number;
  since: string;
  asOf: string;
  reasonCodes: string[];
  reasons: { code: string; message: string; since: string }[];
}

export async function churnCommand(
  action: string | undefined,
  target: string | undefined,
  values: ChurnCliValues,
  call: ApiCall,
  render: Render,
  io: ChurnCliIo,
): Promise<string> {
  const show = (answer: unknown, text: () => string) =>
    values.json ? JSON.stringify(answer, null, 2) : text();
  switch (action ?? '') {
    case 'evaluate': {
      let config: unknown;
      if (values.config !== undefined) {
        try {
          config = JSON.parse(readFileSync(values.config, 'utf8')) as unknown;
        } catch (error) {
          throw new ChurnCliError(
            `--config ${values.config}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      const started = (await call('POST', '/v1/admin/churn/evaluate', {
        ...(values['as-of'] === undefined ? {} : { asOf: values['as-of'] }),
        ...(config === undefined ? {} : { config }),
        wait: false,
      })) as EvaluationView;
      if (values.detach) {
        return show(
          started,
          () =>
            `Churn evaluation ${started.id} as of ${started.asOf} started; follow it with: touchline churn evaluations`,
        );
      }
      const finished = await follow(started, call, io);
      if (finished.status === 'failed')
        throw new ChurnCliError(`Churn evaluation ${finished.id} failed: ${finished.error ?? ''}`);
      return show(finished, () => describe(finished));
    }
    case 'list': {
      const query = new URLSearchParams({
        ...(values.reason === undefined ? {} : { reason: values.reason }),
        ...(values.sort === undefined ? {} : { sort: values.sort }),
        ...(values.limit === undefined ? {} : { limit: values.limit }),
        ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
      });
      const answer = (await call('GET', `/v1/churn/flags?${query.toString()}`)) as {
        items: FlagView[];
        nextCursor: string | null;
        evaluation: EvaluationView | null;
      };
      return show(answer, () => {
        const rows = answer.items.map((flag) => ({
          customerId: flag.customerId,
          risk: flag.risk.toFixed(3),
          since: flag.since,
          reasons: flag.reasonCodes.join(','),
        }));
        const as = answer.evaluation
          ? `As of ${answer.evaluation.asOf} (evaluation ${answer.evaluation.id}, ${answer.evaluation.status}).\n`
          : 'No evaluation yet: run touchline churn evaluate.\n';
        return `${as}${render(rows, ['customerId', 'risk', 'since', 'reasons'])}${answer.nextCursor ? `\nmore: --cursor ${answer.nextCursor}` : ''}`;
      });
    }
    case 'show': {
      if (!target) throw new ChurnCliError(`Missing the customer id.\n\n${CHURN_HELP}`);
      const answer = (await call('GET', `/v1/churn/flags/${encodeURIComponent(target)}`)) as {
        customerId: string;
        flag: FlagView | null;
        history: { type: string; reasonCodes: string[]; asOf: string; evaluatedAt: string }[];
      };
      return show(answer, () => {
        const head = answer.flag
          ? `Customer ${answer.customerId}: flagged since ${answer.flag.since}, risk ${answer.flag.risk.toFixed(3)}\n${answer.flag.reasons
              .map((r) => `  ${r.code}: ${r.message} (since ${r.since})`)
              .join('\n')}`
          : `Customer ${answer.customerId}: not flagged.`;
        const history = answer.history.map((h) => ({
          asOf: h.asOf,
          type: h.type,
          reasons: h.reasonCodes.join(','),
          evaluatedAt: h.evaluatedAt,
        }));
        return `${head}\n\nHistory:\n${render(history, ['asOf', 'type', 'reasons', 'evaluatedAt'])}`;
      });
    }
    case 'evaluations': {
      const answer = (await call(
        'GET',
        `/v1/churn/evaluations${values.limit ? `?limit=${encodeURIComponent(values.limit)}` : ''}`,
      )) as { items: EvaluationView[] };
      return show(answer, () =>
        render(
          answer.items.map((e) => ({
            id: e.id,
            asOf: e.asOf,
            status: e.status,
            customers: `${e.customers.evaluated}/${e.customers.total}`,
            flagged: e.flagged,
            raised: e.raised,
            cleared: e.cleared,
            model: e.model.status,
          })),
          ['id', 'asOf', 'status', 'customers', 'flagged', 'raised', 'cleared', 'model'],
        ),
      );
    }
    default:
      throw new ChurnCliError(`Unknown command "churn ${action ?? ''}".\n\n${CHURN_HELP}`);
  }
}

async function follow(
  started: EvaluationView,
  call: ApiCall,
  io: ChurnCliIo,
): Promise<EvaluationView> {
  let view = started;
  let lastLine = '';
  for (;;) {
    const line = progressLine(view);
    if (line !== lastLine) {
      io.progress.write(io.progress.isTTY ? `\r${line}` : `${line}\n`);
      lastLine = line;
    }
    if (view.status !== 'running') {
      if (io.progress.isTTY) io.progress.write('\n');
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 500));
    view = (await call('GET', `/v1/churn/evaluations/${started.id}`)) as EvaluationView;
  }
}

/** `churn [########----------------]  33.3%  1000/3000 customers  2000/s  ETA 1s` */
export function progressLine(view: EvaluationView): string {
  const width = 24;
  const percent = view.progress.percent;
  const filled = Math.round((percent / 100) * width);
  const rate =
    view.progress.customersPerSecond === null ? '- /s' : `${view.progress.customersPerSecond}/s`;
  const eta =
    view.status === 'running'
      ? `ETA ${view.progress.etaSeconds === null ? '-' : `${view.progress.etaSeconds}s`}`
      : view.status;
  return `churn [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent.toFixed(1).padStart(5)}%  ${view.customers.evaluated}/${view.customers.total} customers  ${rate}  ${eta}`;
}

function describe(view: EvaluationView): string {
  const model =
    view.model.status === 'used'
      ? `Model: P(alive) under fit ${view.model.fitId ?? '?'} (${view.model.modelVersion ?? '?'}, calibration end ${view.model.calibrationEnd ?? '?'}).`
      : `Model: ${view.model.status}: ${view.model.message ?? ''}`;
  return `Churn evaluation ${view.id} as of ${view.asOf}: ${view.status}, ${view.customers.evaluated} of ${view.customers.total} customers, ${view.flagged ?? '?'} flagged (${view.raised} raised, ${view.cleared} cleared).\n${model}`;
}
