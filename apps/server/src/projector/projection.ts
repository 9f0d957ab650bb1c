import type { RecordedEvent } from '@touchline/event-store';
import type { PoolClient } from 'pg';

/**
 * A read model fed from the global log. `apply` runs inside the projector's transaction, which
 * also stores the checkpoint: the rows and the checkpoint commit together or not at all.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  /**
   * The read-model tables this projection owns (schema-qualified): a rebuild empties exactly
   * these. A projection that does not say cannot be rebuilt through the operations API.
   */
  readonly tables?: readonly string[];
  apply(client: PoolClient, events: readonly RecordedEvent[]): Promise<void>;
}
