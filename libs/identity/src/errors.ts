export type IdentityErrorCode =
  /** A canonical identifier string that is not `<kind>:<value>` with a known kind. */
  | 'INVALID_IDENTIFIER'
  /** Rules that cannot be used: a negative or fractional limit, a pattern that does not compile. */
  | 'INVALID_RULES'
  /** A stored event whose time cannot be read: it cannot be placed in event-time order. */
  | 'INVALID_EVENT'
  /** The graph was passed to evolve/unmerge/withRules already: use the state they returned. */
  | 'STALE_STATE'
  /** An unmerge names evidence or a link the graph has never accepted. */
  | 'UNKNOWN_MERGE';

/** Every refusal of this library: a string code and a message. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';

  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isIdentityError(error: unknown): error is IdentityError {
  return error instanceof IdentityError;
}
