import { loadValueConfigOrThrow } from '../value/value-config';
import { CustomerProfileProjection } from './customer-profile.projection';
import { identityRulesFromEnv } from './identity-rules-config';

/** The profile projection with the configured identity rules and currency (validated here). */
export function customerProfileProjectionFromEnv(
  env: NodeJS.ProcessEnv,
  schema = 'read_models',
): CustomerProfileProjection {
  return new CustomerProfileProjection(
    identityRulesFromEnv(env),
    loadValueConfigOrThrow(env).fx,
    {},
    schema,
  );
}
