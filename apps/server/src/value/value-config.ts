import { z } from 'zod';
import { type FxTable, parseFxTable } from './domain/fx';

export interface ValueConfig {
  /** Net revenue, order values and CLV are in this currency. */
  readonly fx: FxTable;
  /** Refit the CLV models every N hours (fractions allowed) in the projector role; null: only on demand. */
  readonly refitHours: number | null;
}

const envSchema = z.object({
  TOUCHLINE_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code, three uppercase letters')
    .default('USD'),
  TOUCHLINE_FX_RATES: z.string().optional(),
  // Fractions of an hour are allowed (0.5: every 30 minutes); 0.001 (3.6 s) is the floor.
  TOUCHLINE_CLV_REFIT_HOURS: z.coerce
    .number()
    .min(0.001, 'must be a number of hours from 0.001 to 8760')
    .max(24 * 365, 'must be a number of hours from 0.001 to 8760')
    .optional(),
});

export class ValueConfigError extends Error {
  readonly code = 'INVALID_CONFIGURATION';
}

/** The customer-value settings, validated at start-up; a problem names the variable. */
export function loadValueConfigOrThrow(env: NodeJS.ProcessEnv): ValueConfig {
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')),
  );
  if (!parsed.success) {
    throw new ValueConfigError(
      `Invalid configuration:\n${parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`).join('\n')}`,
    );
  }
  try {
    return {
      fx: parseFxTable(parsed.data.TOUCHLINE_CURRENCY, parsed.data.TOUCHLINE_FX_RATES),
      refitHours: parsed.data.TOUCHLINE_CLV_REFIT_HOURS ?? null,
    };
  } catch (error) {
    throw new ValueConfigError(
      `Invalid configuration:\n  TOUCHLINE_FX_RATES: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
