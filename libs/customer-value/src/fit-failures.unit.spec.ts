import { fitBgNbd, fitGammaGamma } from './index';

const fittedAt = new Date('2024-01-01T00:00:00Z');
const customers = (n: number, x: number) =>
  Array.from({ length: n }, (_, i) => ({ x, tx: x > 0 ? 5 : 0, T: 10 + i, zbar: x > 0 ? 20 : 0 }));

describe('fits that cannot be made say why', () => {
  it('too few customers', () => {
    expect(fitBgNbd(customers(5, 1), { fittedAt })).toMatchObject({
      ok: false,
      model: 'bg-nbd',
      code: 'too-few-customers',
    });
    expect(fitGammaGamma(customers(5, 1), { fittedAt })).toMatchObject({
      ok: false,
      model: 'gamma-gamma',
      code: 'too-few-customers',
    });
  });

  it('no repeat purchases', () => {
    expect(fitBgNbd(customers(50, 0), { fittedAt })).toMatchObject({
      ok: false,
      code: 'no-repeat-purchases',
    });
    expect(fitGammaGamma(customers(50, 0), { fittedAt })).toMatchObject({
      ok: false,
      code: 'no-repeat-purchases',
    });
  });

  it('malformed summaries', () => {
    const bad = [...customers(20, 1), { x: 1, tx: 30, T: 10, zbar: 1 }];
    const outcome = fitBgNbd(bad, { fittedAt });
    expect(outcome).toMatchObject({ ok: false, code: 'invalid-input' });
    if (!outcome.ok) expect(outcome.message).toContain('#20');
    expect(fitGammaGamma([...customers(20, 1), { x: -1, zbar: 1 }], { fittedAt })).toMatchObject({
      ok: false,
      code: 'invalid-input',
    });
  });

  it('data that do not identify the model give no parameters', () => {
    // Identical spend for everyone: the spread parameters run away.
    const outcome = fitGammaGamma(customers(50, 3), { fittedAt });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.code).toBe('degenerate');
  });

  it('a small but usable sample fits with metadata', () => {
    const sample = Array.from({ length: 40 }, (_, i) => ({
      x: i % 4,
      tx: i % 4 === 0 ? 0 : 2 + (i % 7),
      T: 12 + (i % 5),
    }));
    const outcome = fitBgNbd(sample, { fittedAt, minCustomers: 30 });
    if (!outcome.ok) throw new Error(outcome.message);
    expect(outcome.fit).toMatchObject({ model: 'bg-nbd', customers: 40, fittedAt });
    expect(Object.values(outcome.fit.parameters).every((v) => Number.isFinite(v) && v > 0)).toBe(
      true,
    );
  });
});
