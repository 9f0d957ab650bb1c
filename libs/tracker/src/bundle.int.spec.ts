import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { TRACKER_VERSION } from './version';

// The build script is plain CommonJS (it runs before anything is compiled).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bundleTracker } = require('../build.js') as {
  bundleTracker: (options?: { write?: boolean }) => Promise<string>;
};

describe('tracker.js bundle', () => {
  let code: string;
  beforeAll(async () => {
    code = await bundleTracker();
  });

  it('stays under 8 KB gzipped', () => {
    const gzipped = gzipSync(Buffer.from(code, 'utf8'), { level: 9 }).length;
    process.stderr.write(`tracker.js: ${code.length} bytes minified, ${gzipped} bytes gzipped\n`);
    expect(gzipped).toBeLessThan(8 * 1024);
  });

  it('is a self-contained browser script: no module system, no Node APIs', () => {
    expect(code).not.toMatch(/\brequire\(|\bprocess\.|\bBuffer\b|\bexports\b|\bimport\(/);
    expect(code.startsWith('(()=>{')).toBe(true);
  });

  it('reports the package version as context.library.version', () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as {
      version: string;
    };
    expect(TRACKER_VERSION).toBe(pkg.version);
    expect(code).toContain(`"${pkg.version}"`);
  });
});
