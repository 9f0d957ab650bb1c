import { progressLine } from './projections-cli';

describe('the rebuild progress line', () => {
  const figures = {
    status: 'running',
    eventsApplied: 600,
    targetEvents: 1_000,
    eventsPerSecond: 200,
    percent: 60,
    etaSeconds: 2,
  };

  it('shows the bar, the counts, the rate and the ETA while replaying', () => {
    expect(progressLine('customer_profiles', { ...figures, phase: 'replaying' })).toBe(
      'customer_profiles [##############----------]  60.0%  600/1000 events  200 ev/s  ETA 2s',
    );
  });

  it('says what a rebuild does once its events are replayed, instead of an ETA', () => {
    const line = progressLine('customer_profiles', {
      ...figures,
      eventsApplied: 1_000,
      percent: 100,
      etaSeconds: 0,
      phase: 'building indexes',
    });
    expect(line).toBe(
      'customer_profiles [########################] 100.0%  1000/1000 events  200 ev/s  building indexes...',
    );
  });

  it('shows the outcome once it has ended', () => {
    expect(progressLine('x', { ...figures, status: 'failed', phase: 'building indexes' })).toMatch(
      / failed$/,
    );
  });
});
