export type CustomerValueErrorCode =
  | 'invalid-transaction'
  | 'invalid-options'
  | 'invalid-customer'
  | 'invalid-parameters'
  | 'hypergeometric-domain';

/** Thrown for programming errors at the library edge (bad arguments); fits never throw it. */
export class CustomerValueError extends Error {
  override readonly name = 'CustomerValueError';
  constructor(
    readonly code: CustomerValueErrorCode,
    message: string,
  ) {
    super(message);
  }
}
