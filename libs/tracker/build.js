// Bundles src/browser.ts into dist/tracker.min.js, the script the collector serves at
// /tracker.js. `node build.js` writes it; the size test calls bundleTracker() in memory.
const path = require('node:path');
const esbuild = require('esbuild');

/** Browsers of the last ~5 years: keeps the bundle free of heavy down-levelling helpers. */
const TARGET = ['chrome80', 'firefox78', 'safari13', 'edge80'];

async function bundleTracker({ write = false } = {}) {
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, 'src/browser.ts')],
    outfile: path.join(__dirname, 'dist/tracker.min.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: TARGET,
    legalComments: 'none',
    sourcemap: false,
    write,
    logLevel: 'silent',
  });
  return write ? null : result.outputFiles[0].text;
}

module.exports = { bundleTracker };

if (require.main === module) {
  bundleTracker({ write: true }).catch((error) => {
    process.stderr.write(`tracker bundle failed: ${error.stack ?? error}\n`);
    process.exit(1);
  });
}
