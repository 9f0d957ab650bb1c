import { DEFAULT_CHURN_CONFIG, resolveChurnConfig } from './index';

describe('churn configuration', () => {
  it('given no overrides, when resolved, then the defaults', () => {
    expect(resolveChurnConfig(undefined)).toEqual({ ok: true, config: DEFAULT_CHURN_CONFIG });
    expect(resolveChurnConfig({})).toEqual({ ok: true, config: DEFAULT_CHURN_CONFIG });
  });

  it('given partial overrides, when resolved, then only those settings change', () => {
    const resolved = resolveChurnConfig({
      'overdue-contact': { multiplier: 4, statistic: 'mean' },
      unsubscribed: { withinDays: 365 },
      'model-p-alive-low': { enabled: false },
    });
    if (!resolved.ok) throw new Error('refused');
    expect(resolved.config['overdue-contact']).toEqual({
      ...DEFAULT_CHURN_CONFIG['overdue-contact'],
      multiplier: 4,
      statistic: 'mean',
    });
    expect(resolved.config.unsubscribed.withinDays).toBe(365);
    expect(resolved.config['model-p-alive-low']).toEqual({ enabled: false, threshold: 0.3 });
    expect(resolved.config['hard-bounces']).toEqual(DEFAULT_CHURN_CONFIG['hard-bounces']);
  });

  it('given overrides on top of a server configuration, when resolved, then both apply', () => {
    const server = resolveChurnConfig({ 'hard-bounces': { minCount: 3 } });
    if (!server.ok) throw new Error('refused');
    const request = resolveChurnConfig({ 'hard-bounces': { windowDays: 30 } }, server.config);
    expect(request.ok && request.config['hard-bounces']).toMatchObject({
      minCount: 3,
      windowDays: 30,
    });
  });

  it('given mistakes, when resolved, then every one is named by its path', () => {
    const resolved = resolveChurnConfig(
      {
        'overdue-contacts': { multiplier: 4 },
        'overdue-contact': { multiplier: 0.5, threshold: 1, contactTypes: ['not a type'] },
        unsubscribed: { withinDays: 'forever' },
        'missed-calls': { directions: ['sideways'] },
        'hard-bounces': { minCount: 1000 },
        complaint: 'yes',
      },
      DEFAULT_CHURN_CONFIG,
      'config',
    );
    expect(resolved.ok).toBe(false);
    if (resolved.ok) return;
    expect(resolved.issues.map((issue) => issue.path)).toEqual([
      'config.overdue-contacts',
      'config.overdue-contact.multiplier',
      'config.overdue-contact.threshold',
      'config.overdue-contact.contactTypes',
      'config.unsubscribed.withinDays',
      'config.missed-calls.directions',
      'config.hard-bounces.minCount',
      'config.complaint',
    ]);
    expect(resolved.issues[1]?.message).toBe('must be a number from 1 to 100');
    expect(resolved.issues[4]?.message).toContain('or null');
  });

  it('given something that is not an object, when resolved, then refused at the prefix', () => {
    expect(resolveChurnConfig([1, 2], DEFAULT_CHURN_CONFIG, 'TOUCHLINE_CHURN_CONFIG')).toEqual({
      ok: false,
      issues: [{ path: 'TOUCHLINE_CHURN_CONFIG', message: 'must be an object' }],
    });
  });
});
