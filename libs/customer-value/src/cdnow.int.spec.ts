// Validation against the published CDNOW results (FHL 2005 BG/NBD; FHL 2005 RFM and CLV).
import {
  conditionalExpectedPurchases,
  expectedAverageOrderValue,
  fitBgNbd,
  fitGammaGamma,
  probabilityAlive,
  scoreMany,
  summarizeTransactions,
  type CustomerSummary,
} from './index';
import {
  CDNOW_CALIBRATION,
  readCdnowMaster,
  readCdnowPublishedSummary,
  readCdnowSample,
} from './testing';

const fittedAt = new Date('2024-01-01T00:00:00Z');
const within = (value: number, published: number, relative: number): void => {
  expect(Math.abs(value / published - 1)).toBeLessThanOrEqual(relative);
};

describe('CDNOW sample, 39-week calibration', () => {
  let summaries: CustomerSummary[];
  beforeAll(() => {
    summaries = summarizeTransactions(readCdnowSample(), CDNOW_CALIBRATION);
  });

  it('reproduces the published summary for every customer', () => {
    const published = readCdnowPublishedSummary();
    expect(summaries).toHaveLength(published.length);
    const byId = new Map(summaries.map((s) => [s.customerId, s]));
    for (const row of published) {
      const s = byId.get(row.id)!;
      expect(s.x).toBe(row.x);
      // The file is rounded to 2 decimals; a float sum can land a hair past the half-cent.
      expect(Math.abs(s.tx - row.tx)).toBeLessThanOrEqual(0.005 + 1e-9);
      expect(Math.abs(s.T - row.T)).toBeLessThanOrEqual(0.005 + 1e-9);
      expect(Math.abs(s.zbar - row.zbar)).toBeLessThanOrEqual(0.005 + 1e-9);
    }
    expect(summaries.reduce((n, s) => n + s.x, 0)).toBe(2457);
    expect(summaries.filter((s) => s.x > 0)).toHaveLength(946);
  });

  it('fits BG/NBD to the published parameters and log-likelihood', () => {
    const outcome = fitBgNbd(summaries, { fittedAt });
    if (!outcome.ok) throw new Error(outcome.message);
    const { fit } = outcome;
    within(fit.parameters.r, 0.243, 0.01);
    within(fit.parameters.alpha, 4.414, 0.01);
    within(fit.parameters.a, 0.793, 0.01);
    within(fit.parameters.b, 2.426, 0.01);
    expect(fit.logLikelihood).toBeCloseTo(-9582.4, 1); // FHL 2005, table 1
    expect(fit).toMatchObject({
      model: 'bg-nbd',
      modelVersion: 'bg-nbd/1.0.0',
      customers: 2357,
      fittedAt,
      converged: true,
    });
    expect(fit.iterations).toBeGreaterThan(0);

    // FHL 2005 section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in weeks 40–78.
    expect(
      conditionalExpectedPurchases(fit.parameters, { x: 2, tx: 30.43, T: 38.86 }, 39),
    ).toBeCloseTo(1.226, 2);
    const alive = probabilityAlive(fit.parameters, { x: 2, tx: 30.43, T: 38.86 });
    expect(alive).toBeGreaterThan(0.5);
    expect(alive).toBeLessThan(1);
  });

  it('fits Gamma-Gamma to the published parameters', () => {
    const outcome = fitGammaGamma(summaries, { fittedAt });
    if (!outcome.ok) throw new Error(outcome.message);
    const { fit } = outcome;
    within(fit.parameters.p, 6.25, 0.01);
    within(fit.parameters.q, 3.74, 0.01);
    within(fit.parameters.gamma, 15.44, 0.01);
    expect(fit).toMatchObject({
      model: 'gamma-gamma',
      customers: 946,
      excludedCustomers: 0,
      converged: true,
    });
    // lifetimes' documentation prints 24.6586 for customer 1 (x = 2, zbar = 22.35) with its fit.
    expect(expectedAverageOrderValue(fit.parameters, { x: 2, zbar: 22.35 })).toBeCloseTo(24.66, 1);
  });
});

describe('CDNOW master file (23,570 customers)', () => {
  it('summarises with the same calibration, fits both models and scores every customer with finite figures', () => {
    const summaries = summarizeTransactions(readCdnowMaster(), CDNOW_CALIBRATION);
    expect(summaries).toHaveLength(23_570);
    const bg = fitBgNbd(summaries, { fittedAt });
    const gg = fitGammaGamma(summaries, { fittedAt });
    if (!bg.ok || !gg.ok) throw new Error('fit failed');
    // The full cohort behaves like its 1/10 sample: parameters within 15 % of the sample's.
    within(bg.fit.parameters.r, 0.243, 0.15);
    within(bg.fit.parameters.a, 0.793, 0.15);
    within(gg.fit.parameters.p, 6.25, 0.15);
    const scores = scoreMany(
      { bgNbd: bg.fit.parameters, gammaGamma: gg.fit.parameters },
      {
        x: Float64Array.from(summaries, (s) => s.x),
        tx: Float64Array.from(summaries, (s) => s.tx),
        T: Float64Array.from(summaries, (s) => s.T),
        zbar: Float64Array.from(summaries, (s) => s.zbar),
      },
      {
        purchaseHorizon: 39,
        clv: { periodLength: 52 / 12, periods: 12, discountRatePerPeriod: 0.01 },
      },
    );
    for (const column of [
      scores.pAlive,
      scores.expectedPurchases,
      scores.expectedAverageOrderValue!,
      scores.clv!,
    ]) {
      expect(column.every(Number.isFinite)).toBe(true);
    }
    expect(scores.pAlive.every((p) => p >= 0 && p <= 1)).toBe(true);
  });
});
