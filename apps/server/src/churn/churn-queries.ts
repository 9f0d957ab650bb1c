import { encodeCursor } from '../common/pair-cursor';
import {
  CHURN_REASON_CODES,
  type ChurnReasonCode,
  type HeldChurnReason,
} from '@touchline/customer-value';
import type { Pool } from 'pg';
import { TouchlineException } from '../common/touchline.exception';
import { type ChurnEvaluationDto, EVALUATION_COLUMNS, evaluationDto } from './churn-evaluator';

export const FLAG_SORTS = {
  risk: { column: 'risk', cast: 'float8' },
  since: { column: 'since', cast: 'timestamptz' },
} as const;
export type FlagSort = keyof typeof FLAG_SORTS;

export interface FlagFilter {
  /** Flags holding any of these reasons; null: all. */
  readonly reasons: readonly ChurnReasonCode[] | null;
  readonly sort: FlagSort;
  readonly order: 'asc' | 'desc';
  readonly limit: number;
  readonly after: { readonly value: string; readonly customerId: string } | null;
}

export interface ChurnReasonDto extends HeldChurnReason {
  readonly code: ChurnReasonCode;
}

export interface ChurnFlagDto {
  readonly customerId: string;
  /** 1 − P(alive) × Π(1 − weight) over its reasons: higher is more likely to leave. */
  readonly risk: number;
  /** Flagged without a break since this evaluation as-of time. */
  readonly since: string;
  /** The as-of time of the evaluation that last changed this flag. */
  readonly asOf: string;
  readonly reasonCodes: readonly ChurnReasonCode[];
  readonly reasons: readonly ChurnReasonDto[];
}

export interface ChurnHistoryEntryDto {
  readonly id: string;
  readonly type: 'ChurnFlagRaised' | 'ChurnFlagCleared';
  readonly reasonCodes: readonly ChurnReasonCode[];
  readonly details: unknown;
  readonly risk: number | null;
  readonly asOf: string;
  readonly evaluatedAt: string;
  readonly evaluationId: string;
}

interface FlagRow {
  customer_id: string;
  reason_codes: ChurnReasonCode[];
  reasons: Partial<Record<ChurnReasonCode, HeldChurnReason>>;
  risk: number;
  since: Date;
  as_of: Date;
}

const flagDto = (row: FlagRow): ChurnFlagDto => ({
  customerId: row.customer_id,
  risk: row.risk,
  since: row.since.toISOString(),
  asOf: row.as_of.toISOString(),
  reasonCodes: row.reason_codes,
  // In the order of the codes (the order reasons are listed in everywhere).
  reasons: CHURN_REASON_CODES.flatMap((code) => {
    const reason = row.reasons[code];
    return reason === undefined ? [] : [{ code, ...reason }];
  }),
});

/** Reads of the churn tables (plain SQL over read_models). */
export class ChurnQueries {
  constructor(private readonly pool: Pool) {}

  async flags(filter: FlagFilter): Promise<{
    items: ChurnFlagDto[];
    nextCursor: string | null;
    evaluation: ChurnEvaluationDto | null;
  }> {
    const params: unknown[] = [];
    const bind = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const { column, cast } = FLAG_SORTS[filter.sort];
    const where: string[] = [];
    if (filter.reasons !== null) where.push(`reason_codes && ${bind(filter.reasons)}::text[]`);
    if (filter.after !== null) {
      const op = filter.order === 'asc' ? '>' : '<';
      where.push(
        `(${column}, customer_id) ${op} (${bind(filter.after.value)}::${cast}, ${bind(filter.after.customerId)}::text)`,
      );
    }
    const direction = filter.order === 'asc' ? 'ASC' : 'DESC';
    const rows = await this.pool.query<FlagRow>(
      `SELECT customer_id, reason_codes, reasons, risk, since, as_of FROM read_models.churn_flags
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ${column} ${direction}, customer_id ${direction}
        LIMIT ${bind(filter.limit + 1)}`,
      params,
    );
    const page = rows.rows.slice(0, filter.limit).map(flagDto);
    const last = page[page.length - 1];
    return {
      items: page,
      nextCursor:
        rows.rows.length > filter.limit && last !== undefined
          ? encodeCursor([
              filter.sort === 'risk' ? JSON.stringify(last.risk) : last.since,
              last.customerId,
            ])
          : null,
      evaluation: await this.latestEvaluation(),
    };
  }

  /** The customer's current flag (if any) and the history of its flags, oldest first. */
  async customerOrThrow(customerId: string, historyLimit: number) {
    const [profile, flag, history] = await Promise.all([
      this.pool.query('SELECT 1 FROM read_models.customer_profiles WHERE customer_id = $1', [
        customerId,
      ]),
      this.pool.query<FlagRow>(
        `SELECT customer_id, reason_codes, reasons, risk, since, as_of FROM read_models.churn_flags
          WHERE customer_id = $1`,
        [customerId],
      ),
      this.pool.query<{
        id: string;
        event_type: 'ChurnFlagRaised' | 'ChurnFlagCleared';
        reason_codes: ChurnReasonCode[];
        details: unknown;
        risk: number | null;
        as_of: Date;
        evaluated_at: Date;
        evaluation_id: string;
      }>(
        `SELECT * FROM (
           SELECT id::text, event_type, reason_codes, details, risk, as_of, evaluated_at, evaluation_id
             FROM read_models.churn_flag_events WHERE customer_id = $1 ORDER BY id DESC LIMIT $2
         ) latest ORDER BY id::bigint`,
        [customerId, historyLimit],
      ),
    ]);
    const current = flag.rows[0];
    if (profile.rows.length === 0 && current === undefined && history.rows.length === 0) {
      throw new TouchlineException('NOT_FOUND', `No customer with id ${customerId}`);
    }
    return {
      customerId,
      flagged: current !== undefined,
      flag: current === undefined ? null : flagDto(current),
      history: history.rows.map((row): ChurnHistoryEntryDto => ({
        id: row.id,
        type: row.event_type,
        reasonCodes: row.reason_codes,
        details: row.details,
        risk: row.risk,
        asOf: row.as_of.toISOString(),
        evaluatedAt: row.evaluated_at.toISOString(),
        evaluationId: row.evaluation_id,
      })),
    };
  }

  async latestEvaluation(): Promise<ChurnEvaluationDto | null> {
    return (await this.evaluations(1))[0] ?? null;
  }

  async evaluations(limit: number): Promise<ChurnEvaluationDto[]> {
    const result = await this.pool.query<Parameters<typeof evaluationDto>[0]>(
      `SELECT ${EVALUATION_COLUMNS} FROM read_models.churn_evaluations
        ORDER BY started_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return result.rows.map(evaluationDto);
  }

  async evaluationOrThrow(id: string): Promise<ChurnEvaluationDto> {
    const result = await this.pool.query<Parameters<typeof evaluationDto>[0]>(
      `SELECT ${EVALUATION_COLUMNS} FROM read_models.churn_evaluations WHERE id = $1`,
      [id],
    );
    const row = result.rows[0];
    if (row === undefined)
      throw new TouchlineException('NOT_FOUND', `No churn evaluation with id ${id}`);
    return evaluationDto(row);
  }
}
