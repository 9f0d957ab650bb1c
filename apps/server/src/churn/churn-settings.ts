import { readFileSync } from 'node:fs';
import { type ChurnConfig, resolveChurnConfig } from '@touchline/customer-value';

export interface ChurnSettings {
  /** Evaluate as of now every N minutes in the projector role; null: only on demand. */
  readonly evaluateEveryMinutes: number | null;
  /** The rules' settings every evaluation starts from (defaults + TOUCHLINE_CHURN_CONFIG). */
  readonly config: ChurnConfig;
}

export class ChurnSettingsError extends Error {
  readonly code = 'INVALID_CONFIGURATION';
}

const MAX_MINUTES = 30 * 24 * 60;

const refuse = (variable: string, message: string) =>
  new ChurnSettingsError(`Invalid configuration:\n  ${variable}: ${message}`);

/**
 * The churn settings, validated at start-up; a problem names the variable (and, in the config,
 * the setting). TOUCHLINE_CHURN_CONFIG is a JSON object of overrides, inline (`{...}`) or the
 * path of a file holding one.
 */
export function loadChurnSettingsOrThrow(env: NodeJS.ProcessEnv): ChurnSettings {
  const minutesText = env['TOUCHLINE_CHURN_EVALUATE_MINUTES']?.trim() ?? '';
  let evaluateEveryMinutes: number | null = null;
  if (minutesText !== '') {
    const minutes = Number(minutesText);
    if (!/^\d+$/.test(minutesText) || minutes < 1 || minutes > MAX_MINUTES) {
      throw refuse(
        'TOUCHLINE_CHURN_EVALUATE_MINUTES',
        `must be a whole number of minutes from 1 to ${MAX_MINUTES}`,
      );
    }
    evaluateEveryMinutes = minutes;
  }
  const configText = env['TOUCHLINE_CHURN_CONFIG']?.trim() ?? '';
  let overrides: unknown;
  if (configText !== '') {
    let json = configText;
    if (!configText.startsWith('{')) {
      try {
        json = readFileSync(configText, 'utf8');
      } catch {
        throw refuse('TOUCHLINE_CHURN_CONFIG', `cannot read the file ${configText}`);
      }
    }
    try {
      overrides = JSON.parse(json) as unknown;
    } catch {
      throw refuse('TOUCHLINE_CHURN_CONFIG', 'is not valid JSON');
    }
  }
  const resolved = resolveChurnConfig(overrides, undefined, 'TOUCHLINE_CHURN_CONFIG');
  if (!resolved.ok) {
    throw new ChurnSettingsError(
      `Invalid configuration:\n${resolved.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
    );
  }
  return { evaluateEveryMinutes, config: resolved.config };
}
