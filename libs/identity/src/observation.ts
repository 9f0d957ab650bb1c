import type { Identifier } from './identifier';

/** What kind of call or touchpoint saw the identifiers together. */
export type EvidenceSource =
  'identify' | 'alias' | 'group' | 'track' | 'page' | 'screen' | 'email' | 'phone' | 'other';

/**
 * Identifiers one event saw together: the evidence that they belong to one person. An
 * observation of a single identifier links nothing but makes the identifier (and so a customer)
 * known, and dates its first sighting.
 */
export interface Observation {
  /** The stored event's id: duplicates of it are one observation. */
  readonly eventId: string;
  /** Event time; with the event id, the canonical order in which evidence is weighed. */
  readonly occurredAt: Date;
  readonly source: EvidenceSource;
  readonly identifiers: readonly Identifier[];
}
