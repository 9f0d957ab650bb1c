export * from './errors';
export * from './fit-result';
export * from './summary';
export {
  BG_NBD_MODEL_VERSION,
  bgNbdLogLikelihood,
  conditionalExpectedPurchases,
  expectedPurchases,
  fitBgNbd,
  probabilityAlive,
  type BgNbdFit,
  type BgNbdParameters,
  type FrequencyRecency,
} from './bg-nbd';
export {
  GAMMA_GAMMA_MODEL_VERSION,
  expectedAverageOrderValue,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  type FrequencyMonetary,
  type GammaGammaFit,
  type GammaGammaParameters,
} from './gamma-gamma';
export {
  customerLifetimeValue,
  discountedExpectedPurchases,
  type ClvConfig,
  type ClvModels,
} from './clv';
export {
  scoreMany,
  type CustomerColumns,
  type ScoreColumns,
  type ScoringConfig,
  type ScoringModels,
} from './score-many';
export { hyp2f1 } from './numerics/hypergeometric';
export { lnGamma } from './numerics/special-functions';
export {
  AFFINITY_OPTION_LIMITS,
  affinityFromCounts,
  affinityOptionsOrThrow,
  countCoPurchases,
  CrossSellError,
  DEFAULT_AFFINITY_OPTIONS,
  minimumPairCustomers,
  productAffinity,
  type AffinityOptions,
  type AffinityResult,
  type AffinityRule,
  type CoPurchaseCounts,
  type CrossSellErrorCode,
  type PairCount,
} from './cross-sell';
export * from './churn';
