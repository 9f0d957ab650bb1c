import { Controller, Get, Inject, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { uuidParam } from '../../admin/request-parsing';
import { ApiKeyGuard, RequireRole } from '../../auth/api-key.guard';
import { TouchlineException } from '../../common/touchline.exception';
import type { Runtime } from '../../platform/runtime';
import { RUNTIME } from '../../platform/tokens';
import {
  CONSENT_PURPOSES,
  type ConsentPurpose,
  purposeOfSegmentCategory,
} from './consent-statement';

/** History entries answered at most; consent changes are rare, so this is a safety cap. */
export const MAX_HISTORY = 1000;

export interface CurrentConsentDto {
  readonly granted: boolean;
  /** Event time of the statement that decided it. */
  readonly at: string;
  /** The event type that said it (ConsentChanged, EmailUnsubscribed, UserIdentified, ...). */
  readonly source: string;
}

export interface ConsentHistoryEntryDto {
  readonly purpose: string;
  readonly granted: boolean;
  readonly source: string;
  readonly category: string | null;
  readonly eventType: string;
  readonly occurredAt: string;
  readonly eventId: string;
  /** Kind of the identifier the statement came with (userId, email, ...), not its value. */
  readonly identifierKind: string;
}

export interface CustomerConsentDto {
  readonly customerId: string;
  /** Per purpose; null when the customer never said (marketing then counts as allowed). */
  readonly current: Record<ConsentPurpose, CurrentConsentDto | null>;
  readonly marketing: { readonly emailOk: boolean; readonly phoneOk: boolean };
  /** Every statement, oldest first (event time, then event id). */
  readonly history: ConsentHistoryEntryDto[];
  /** True when the history was cut at MAX_HISTORY entries (the oldest are answered). */
  readonly truncated: boolean;
}

type ProfileConsent = Record<string, { value?: unknown; at?: unknown; source?: unknown }>;

/**
 * A purpose's current value from the profile's consent object: the latest statement among the
 * keys naming it, as read_models.consent_value does in SQL.
 */
export function currentConsentOf(
  consent: ProfileConsent,
): Record<ConsentPurpose, CurrentConsentDto | null> {
  const current = Object.fromEntries(CONSENT_PURPOSES.map((p) => [p, null])) as Record<
    ConsentPurpose,
    CurrentConsentDto | null
  >;
  for (const [key, entry] of Object.entries(consent)) {
    const purpose = purposeOfSegmentCategory(key);
    if (purpose === null || typeof entry.value !== 'boolean') continue;
    const at = typeof entry.at === 'string' ? entry.at : '';
    const existing = current[purpose];
    if (existing === null || at > existing.at) {
      current[purpose] = {
        granted: entry.value,
        at,
        source: typeof entry.source === 'string' ? entry.source : 'unknown',
      };
    }
  }
  return current;
}

@ApiTags('profiles')
@ApiBearerAuth('apiKey')
@Controller('v1/profiles')
@UseGuards(ApiKeyGuard)
@RequireRole('analyst')
export class ConsentController {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get(':customerId/consent')
  @ApiOperation({
    summary:
      "A customer's current consent per purpose (analytics, email_marketing, phone_marketing) and its history across all of the customer's identifiers, in event-time order",
  })
  @ApiParam({
    name: 'customerId',
    description: 'The customer id (a UUID) from a lookup or a search',
  })
  @ApiResponse({ status: 400, description: 'customerId is not a UUID, or an unknown parameter' })
  @ApiResponse({ status: 404, description: 'No customer with this id' })
  async consent(
    @Param('customerId') customerId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<CustomerConsentDto> {
    const unknown = Object.keys(query)[0];
    if (unknown !== undefined) {
      throw new TouchlineException(
        'INVALID_REQUEST',
        `unknown parameter ${unknown.slice(0, 100)}; this route takes none`,
      );
    }
    const id = uuidParam('customerId', customerId);
    const pool = this.runtime.pool;
    const profile = await pool.query<{
      consent: ProfileConsent | null;
      email_ok: boolean;
      phone_ok: boolean;
    }>(
      `SELECT p.consent, m.email_ok, m.phone_ok
         FROM read_models.customer_profiles p
         JOIN read_models.marketing_eligibility m USING (customer_id)
        WHERE p.customer_id = $1`,
      [id],
    );
    const row = profile.rows[0];
    if (row === undefined) throw new TouchlineException('NOT_FOUND', `No customer with id ${id}`);
    const history = await pool.query<{
      purpose: string;
      granted: boolean;
      source: string;
      category: string | null;
      event_type: string;
      occurred_at: Date;
      event_id: string;
      identifier: string;
    }>(
      `SELECT h.purpose, h.granted, h.source, h.category, h.event_type, h.occurred_at, h.event_id,
              h.identifier
         FROM read_models.consent_history h
         JOIN read_models.customer_identifiers ci ON ci.identifier = h.identifier
        WHERE ci.customer_id = $1
        ORDER BY h.occurred_at, h.event_id, h.purpose
        LIMIT $2`,
      [id, MAX_HISTORY + 1],
    );
    const entries = history.rows.slice(0, MAX_HISTORY).map((h) => ({
      purpose: h.purpose,
      granted: h.granted,
      source: h.source,
      category: h.category,
      eventType: h.event_type,
      occurredAt: h.occurred_at.toISOString(),
      eventId: h.event_id,
      identifierKind: h.identifier.slice(0, h.identifier.indexOf(':')),
    }));
    return {
      customerId: id,
      current: currentConsentOf(row.consent ?? {}),
      marketing: { emailOk: row.email_ok, phoneOk: row.phone_ok },
      history: entries,
      truncated: history.rows.length > MAX_HISTORY,
    };
  }
}
