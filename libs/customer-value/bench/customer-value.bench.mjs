// Speed of the customer-value models, against the compiled library:
//   npx tsc -b libs/customer-value && node libs/customer-value/bench/customer-value.bench.mjs
// 1. parse CDNOW_master.txt, build the 39-week summaries and fit BG/NBD and Gamma-Gamma;
// 2. score 1,000,000 customers (the master summaries repeated) with P(alive), E[Y(39)],
//    E[M] and a 12-month discounted CLV.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const cv = require('../dist/index.js');
const testing = require('../dist/testing/index.js');

const ms = (t0) => Math.round(performance.now() - t0);
const cpuStart = process.cpuUsage();
const fittedAt = new Date('2024-01-01T00:00:00Z');
const customersToScore = Number(process.env.SCORE_CUSTOMERS ?? 1_000_000);

let t0 = performance.now();
const transactions = testing.readCdnowMaster();
const parseMs = ms(t0);
t0 = performance.now();
const summaries = cv.summarizeTransactions(transactions, testing.CDNOW_CALIBRATION);
const summaryMs = ms(t0);
t0 = performance.now();
const bg = cv.fitBgNbd(summaries, { fittedAt });
const bgMs = ms(t0);
t0 = performance.now();
const gg = cv.fitGammaGamma(summaries, { fittedAt });
const ggMs = ms(t0);
if (!bg.ok || !gg.ok) throw new Error(`fit failed: ${JSON.stringify({ bg, gg })}`);

const n = customersToScore;
const x = new Float64Array(n);
const tx = new Float64Array(n);
const T = new Float64Array(n);
const zbar = new Float64Array(n);
for (let i = 0; i < n; i++) {
  const s = summaries[i % summaries.length];
  x[i] = s.x;
  tx[i] = s.tx;
  T[i] = s.T;
  zbar[i] = s.zbar;
}
const models = { bgNbd: bg.fit.parameters, gammaGamma: gg.fit.parameters };
t0 = performance.now();
const basic = cv.scoreMany({ bgNbd: models.bgNbd }, { x, tx, T }, { purchaseHorizon: 39 });
const basicMs = ms(t0);
t0 = performance.now();
const full = cv.scoreMany(
  models,
  { x, tx, T, zbar },
  {
    purchaseHorizon: 39,
    clv: { periodLength: 52 / 12, periods: 12, discountRatePerPeriod: 0.01 },
  },
);
const fullMs = ms(t0);
let finite = true;
for (const col of [
  basic.pAlive,
  basic.expectedPurchases,
  full.clv,
  full.expectedAverageOrderValue,
]) {
  for (let i = 0; i < n; i++) if (!Number.isFinite(col[i])) finite = false;
}

const result = {
  node: process.version,
  master: { transactions: transactions.length, customers: summaries.length, parseMs, summaryMs },
  fit: {
    bgNbdMs: bgMs,
    bgNbd: {
      ...bg.fit.parameters,
      iterations: bg.fit.iterations,
      logLikelihood: bg.fit.logLikelihood,
    },
    gammaGammaMs: ggMs,
    gammaGamma: {
      ...gg.fit.parameters,
      iterations: gg.fit.iterations,
      customers: gg.fit.customers,
    },
  },
  score: {
    customers: n,
    pAliveAndExpectedPurchasesMs: basicMs,
    withSpendAndTwelvePeriodClvMs: fullMs,
    allFinite: finite,
  },
};
const cpu = process.cpuUsage(cpuStart);
result.processCpuMs = Math.round((cpu.user + cpu.system) / 1000);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
