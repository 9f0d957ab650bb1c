import { nestingDepthExceeds } from './raw-body';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

describe('nesting depth guard', () => {
  it('accepts ordinary events and refuses deep nesting without overflowing', () => {
    expect(nestingDepthExceeds({ batch: [{ properties: { a: [1, { b: 2 }] } }] }, 64)).toBe(false);
    expect(nestingDepthExceeds(nested(64), 64)).toBe(false);
    expect(nestingDepthExceeds(nested(65), 64)).toBe(true);
    expect(nestingDepthExceeds(nested(200_000), 64)).toBe(true);
  });
});
