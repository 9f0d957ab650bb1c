// Summary of a V8 .cpuprofile (node --cpu-prof): self time per function and per package, so a
// profile can be read in the terminal without DevTools.
import { readFile } from 'node:fs/promises';

function where(url) {
  if (!url) return '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    if (rest[0] === '@touchline') return `@touchline/${rest[1]}`;
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const lib = /\/(libs|apps)\/([^/]+)\//.exec(url);
  if (lib) return `${lib[1]}/${lib[2]}`;
  if (url.startsWith('node:')) return 'node core';
  return url.split('/').slice(-2).join('/');
}

export async function summarizeProfile(file, top = 15) {
  const profile = JSON.parse(await readFile(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const intervals = profile.timeDeltas;
  // Each sample's time is the delta to the next one.
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = intervals[i + 1] ?? 0;
    self.set(node.id, (self.get(node.id) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const packages = new Map();
  let idle = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const pkg = ['(garbage collector)', '(program)'].includes(name) ? name : where(callFrame.url);
    const file = callFrame.url
      ? ` ${callFrame.url.split('/').slice(-2).join('/')}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${name}${file} [${pkg}]`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    busySeconds: busy / 1e6,
    idleShare: idle / total,
    text: [
      `  busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s profiled (${((100 * idle) / total).toFixed(0)}% idle)`,
      '  self time by package:',
      ...sorted(packages).map(([k, v]) => `    ${pct(v)}  ${k}`),
      '  self time by function:',
      ...sorted(functions).map(([k, v]) => `    ${pct(v)}  ${k}`),
    ].join('\n'),
  };
}
