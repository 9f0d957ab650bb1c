export type ModelName = 'bg-nbd' | 'gamma-gamma';

/** A fitted model with what is needed to show it next to every figure it produces. */
export interface FitResult<M extends ModelName, P> {
  readonly model: M;
  /** Version of the likelihood and scoring code; figures from different versions are not comparable. */
  readonly modelVersion: string;
  readonly parameters: P;
  /** Total log-likelihood at the parameters (natural log, over all customers used). */
  readonly logLikelihood: number;
  /** Customers the likelihood was computed over. */
  readonly customers: number;
  /** Injected by the caller: the library never reads the clock. */
  readonly fittedAt: Date;
  /** Optimizer iterations, summed over restarts. */
  readonly iterations: number;
  readonly converged: boolean;
}

export type FitFailureCode =
  /** Fewer customers than the configured minimum. */
  | 'too-few-customers'
  /** Nobody bought twice, so repeat behaviour (or spend per repeat) cannot be estimated. */
  | 'no-repeat-purchases'
  /** A customer summary is malformed (negative counts, t_x > T, non-finite values). */
  | 'invalid-input'
  /** The likelihood kept improving as a parameter ran to 0 or infinity: the data do not identify the model. */
  | 'degenerate';

export interface FitFailure<M extends ModelName> {
  readonly ok: false;
  readonly model: M;
  readonly code: FitFailureCode;
  readonly message: string;
  readonly customers: number;
}

export type FitOutcome<M extends ModelName, F> =
  { readonly ok: true; readonly fit: F } | FitFailure<M>;

export interface FitOptions {
  /** Stored on the result; the caller's clock. */
  readonly fittedAt: Date;
  /** Refuse to fit below this many usable customers. Default 10. */
  readonly minCustomers?: number;
  /** Cap on Nelder–Mead iterations over all restarts. Default 20,000. */
  readonly maxIterations?: number;
}
