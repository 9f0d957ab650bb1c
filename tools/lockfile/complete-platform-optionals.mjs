#!/usr/bin/env node
// Our npm registry mirror lacks some platform builds of native packages (e.g. @swc/core for
// macOS and Windows). npm then leaves them out of package-lock.json, and `npm ci` refuses the
// lock ("Missing: @swc/core-darwin-arm64@ from lock file"), although it would skip them on this
// platform anyway (npm/cli#4828, #8320). This adds the missing platform-specific optional
// entries, with their os/cpu/libc, so `npm ci` works here and elsewhere npm fetches them from
// the public registry. Run it after `npm install` changes the lock: `npm run lockfile:complete`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openharmony', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'wasm32'];

/** os, cpu and libc from names like core-linux-arm-gnueabihf or resolver-binding-win32-x64-msvc. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return null;
  const libc = parts.some((p) => p.startsWith('musl'))
    ? ['musl']
    : parts.some((p) => p.startsWith('gnu'))
      ? ['glibc']
      : undefined;
  return { os: [os], cpu: [cpu], ...(libc && os === 'linux' ? { libc } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`;
    if (packages[target]) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) {
      console.error(
        `${path} wants ${name}@${spec}: not an exact version, cannot complete the lock`,
      );
      process.exit(1);
    }
    packages[target] = {
      version: spec,
      ...platform,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
    };
    added += 1;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  `package-lock.json: added ${added} platform-specific optional entr${added === 1 ? 'y' : 'ies'}`,
);
