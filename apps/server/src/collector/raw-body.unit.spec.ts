import { jsonProblem } from './raw-body';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

describe('JSON the collector refuses to store', () => {
  it('accepts ordinary events and refuses deep nesting without overflowing', () => {
    expect(jsonProblem({ batch: [{ properties: { a: [1, { b: 2 }] } }] }, 64)).toBeNull();
    expect(jsonProblem(nested(64), 64)).toBeNull();
    expect(jsonProblem(nested(65), 64)).toMatch(/nested deeper than 64/);
    expect(jsonProblem(nested(200_000), 64)).toMatch(/nested deeper than 64/);
  });

  it('refuses the NUL character in values and keys, which PostgreSQL cannot store', () => {
    expect(jsonProblem({ batch: [{ event: 'ok\u0000' }] }, 64)).toMatch(/NUL/);
    expect(jsonProblem({ properties: { 'k\u0000': 1 } }, 64)).toMatch(/NUL/);
    expect(jsonProblem({ event: 'ok \\u0000 as text' }, 64)).toBeNull();
  });

  it('refuses lone UTF-16 surrogates, which PostgreSQL jsonb rejects, and accepts pairs', () => {
    expect(jsonProblem({ event: 'a\uD800b' }, 64)).toMatch(/surrogate/);
    expect(jsonProblem({ event: 'a\uDE00' }, 64)).toMatch(/surrogate/);
    expect(jsonProblem({ event: 'smile \uD83D\uDE00' }, 64)).toBeNull();
  });
});
