import { readFileSync } from 'node:fs';
import {
  compileRulesOrThrow,
  type CompiledRules,
  DEFAULT_IDENTITY_RULES,
  type IdentityRules,
  isIdentityError,
} from '@touchline/identity';

export const IDENTITY_RULES_VARIABLE = 'TOUCHLINE_IDENTITY_RULES_FILE';

export class IdentityRulesConfigError extends Error {
  readonly code = 'INVALID_CONFIGURATION';
}

/**
 * The identity rules: the defaults, with the top-level keys of the JSON file named by
 * TOUCHLINE_IDENTITY_RULES_FILE replacing theirs (`{"limits": {...}}` replaces all limits).
 * Validated at start-up; a problem names the variable and the file. Changing the rules takes a
 * rebuild of the customer_profiles projection (docs/identity.md).
 */
export function identityRulesFromEnv(env: NodeJS.ProcessEnv): CompiledRules {
  const file = env[IDENTITY_RULES_VARIABLE];
  if (file === undefined || file.trim() === '') return compileRulesOrThrow(DEFAULT_IDENTITY_RULES);
  let overrides: unknown;
  try {
    overrides = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error: unknown) {
    throw new IdentityRulesConfigError(
      `${IDENTITY_RULES_VARIABLE}=${file}: cannot read a JSON object from it (${(error as Error).message})`,
    );
  }
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new IdentityRulesConfigError(
      `${IDENTITY_RULES_VARIABLE}=${file}: must hold a JSON object`,
    );
  }
  const known = Object.keys(DEFAULT_IDENTITY_RULES);
  const unknown = Object.keys(overrides).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new IdentityRulesConfigError(
      `${IDENTITY_RULES_VARIABLE}=${file}: unknown key(s) ${unknown.join(', ')}; known: ${known.join(', ')}`,
    );
  }
  const rules: IdentityRules = { ...DEFAULT_IDENTITY_RULES, ...overrides };
  try {
    return compileRulesOrThrow(rules);
  } catch (error: unknown) {
    if (isIdentityError(error)) {
      throw new IdentityRulesConfigError(`${IDENTITY_RULES_VARIABLE}=${file}: ${error.message}`);
    }
    throw error;
  }
}
