import { anchorIdentifierOf } from './anchor';
import { compileRulesOrThrow, DEFAULT_IDENTITY_RULES } from './rules';

const rules = compileRulesOrThrow(DEFAULT_IDENTITY_RULES);

describe('anchorIdentifierOf', () => {
  it('picks the strongest kind by the merge order', () => {
    const anchor = anchorIdentifierOf(
      {
        identifiers: [
          { kind: 'anonymousId', value: 'a-1' },
          { kind: 'email', value: 'ada@example.com' },
          { kind: 'userId', value: 'u-1' },
        ],
      },
      rules,
    );
    expect(anchor).toEqual({ kind: 'userId', value: 'u-1' });
  });

  it('skips blocked values and breaks ties by canonical string', () => {
    const anchor = anchorIdentifierOf(
      {
        identifiers: [
          { kind: 'userId', value: 'null' },
          { kind: 'email', value: 'zed@example.com' },
          { kind: 'email', value: 'ada@example.com' },
        ],
      },
      rules,
    );
    expect(anchor).toEqual({ kind: 'email', value: 'ada@example.com' });
  });

  it('is null when every identifier is blocked', () => {
    expect(
      anchorIdentifierOf({ identifiers: [{ kind: 'anonymousId', value: 'undefined' }] }, rules),
    ).toBeNull();
  });
});
