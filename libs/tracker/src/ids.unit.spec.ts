import { webcrypto } from 'node:crypto';
import { formatUuidV4, uuidV4 } from './ids';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV4', () => {
  it('uses crypto.randomUUID where the browser has it', () => {
    expect(uuidV4({ randomUUID: () => '00000000-0000-4000-8000-000000000001' }, Math.random)).toBe(
      '00000000-0000-4000-8000-000000000001',
    );
  });

  it('builds a v4 UUID from getRandomValues on plain-http pages (no randomUUID)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const id = uuidV4(
        {
          getRandomValues: <T extends ArrayBufferView | null>(bytes: T): T => {
            webcrypto.getRandomValues(bytes as Uint8Array);
            return bytes;
          },
        },
        () => 0,
      );
      expect(id).toMatch(UUID_V4);
      ids.add(id);
    }
    expect(ids.size).toBe(200);
  });

  it('falls back to Math.random without crypto, still a well-formed v4 UUID', () => {
    expect(uuidV4(undefined, Math.random)).toMatch(UUID_V4);
    expect(uuidV4(undefined, () => 0.999)).toMatch(UUID_V4);
  });

  it('sets the version and variant bits whatever the random bytes', () => {
    expect(formatUuidV4(new Uint8Array(16).fill(0xff))).toBe(
      'ffffffff-ffff-4fff-bfff-ffffffffffff',
    );
    expect(formatUuidV4(new Uint8Array(16))).toBe('00000000-0000-4000-8000-000000000000');
  });
});
