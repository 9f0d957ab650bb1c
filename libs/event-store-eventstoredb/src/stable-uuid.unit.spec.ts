import fc from 'fast-check';
import { esdbEventId, stableUuid } from './stable-uuid';

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('stableUuid', () => {
  it('gives the same ids as the server derivation (pinned vectors)', () => {
    expect(stableUuid('a', 'b')).toBe('59b271ae-1bbc-51d3-9d41-929817f4b16f');
    expect(esdbEventId('msg-1')).toBe('38906089-c0d5-5b07-bbe6-6cf5d8303e62');
  });

  it('is a name-based UUID (version 5 nibble, RFC variant) and deterministic for any id', () => {
    fc.assert(
      fc.property(fc.string(), (id) => {
        const uuid = esdbEventId(id);
        expect(uuid).toMatch(uuidShape);
        expect(esdbEventId(id)).toBe(uuid);
      }),
    );
  });

  it('gives different ids for different inputs and keeps parts apart', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(esdbEventId(a)).not.toBe(esdbEventId(b));
      }),
    );
    expect(stableUuid('a', 'bc')).not.toBe(stableUuid('ab', 'c'));
    // The namespace keeps event ids apart from other uses of the same name.
    expect(esdbEventId('x')).not.toBe(stableUuid('x'));
  });
});
