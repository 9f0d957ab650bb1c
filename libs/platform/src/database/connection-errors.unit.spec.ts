import { isConnectionError } from './connection-errors';

describe('isConnectionError', () => {
  it.each([
    ['refused socket', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['connection exception class 08', Object.assign(new Error('x'), { code: '08006' })],
    ['admin shutdown', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['too many connections', Object.assign(new Error('sorry'), { code: '53300' })],
    ['pg socket loss', new Error('Connection terminated unexpectedly')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    [
      'wrapped cause',
      new Error('append failed', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) }),
    ],
    [
      'aggregate of attempts',
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
    ],
  ])('recognises %s', (_label, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['unique violation', Object.assign(new Error('duplicate key'), { code: '23505' })],
    ['syntax error', Object.assign(new Error('syntax'), { code: '42601' })],
    ['plain error', new Error('boom')],
    ['not an error', 'ECONNREFUSED'],
    ['null', null],
  ])('rejects %s', (_label, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});
