import { decideMetricsAccess, metricsAccessFrom } from './metrics-access';

describe('metrics access', () => {
  it('without a token, serves only a server bound to loopback', () => {
    const access = metricsAccessFrom({});
    expect(decideMetricsAccess(access, '127.0.0.1', undefined)).toBe('allow');
    expect(decideMetricsAccess(access, '::1', undefined)).toBe('allow');
    expect(decideMetricsAccess(access, '0.0.0.0', undefined)).toBe('not-loopback');
    expect(decideMetricsAccess(access, '10.1.2.3', 'Bearer anything')).toBe('not-loopback');
  });

  it('with TOUCHLINE_METRICS_TOKEN, requires exactly that bearer token on any bind', () => {
    const access = metricsAccessFrom({ TOUCHLINE_METRICS_TOKEN: ' s3cret-token ' });
    expect(decideMetricsAccess(access, '0.0.0.0', 'Bearer s3cret-token')).toBe('allow');
    expect(decideMetricsAccess(access, '127.0.0.1', undefined)).toBe('missing-token');
    expect(decideMetricsAccess(access, '0.0.0.0', 'Basic s3cret-token')).toBe('missing-token');
    expect(decideMetricsAccess(access, '0.0.0.0', 'Bearer s3cret-toke')).toBe('wrong-token');
    expect(decideMetricsAccess(access, '0.0.0.0', 'Bearer s3cret-token-longer')).toBe(
      'wrong-token',
    );
  });

  it('treats a blank token as unset', () => {
    expect(metricsAccessFrom({ TOUCHLINE_METRICS_TOKEN: '  ' })).toEqual({ kind: 'loopback-only' });
  });
});
