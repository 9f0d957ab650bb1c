// Starts the real server (apps/server/dist/main.js) as a child process with some roles, the way
// an operator would, and waits until it says it is running.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, onCleanup } from './services.mjs';

const MAIN = path.join(REPO_ROOT, 'apps/server/dist/main.js');
let started = 0;

/**
 * @param {string} roles TOUCHLINE_ROLES
 * @param {Record<string,string>} env DATABASE_URL, KAFKA_BROKERS, TOUCHLINE_TOPIC_PREFIX, ...
 * @param {{ cpuProfileDir?: string }} options `cpuProfileDir` runs node with --cpu-prof
 */
export async function startServer(roles, env, options = {}) {
  const execArgv = options.cpuProfileDir
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${options.cpuProfileDir}`,
        `--cpu-prof-name=${String(++started).padStart(2, '0')}-${roles.replace(/,/g, '+')}.cpuprofile`,
      ]
    : [];
  const child = spawn(process.execPath, [...execArgv, MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      TOUCHLINE_LOG_LEVEL: 'info',
      TOUCHLINE_ROLES: roles,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = [];
  const warnings = [];
  let running = null;
  let onRunning = () => undefined;
  const ready = new Promise((resolve) => (onRunning = resolve));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let buffered = '';
  const onData = (chunk) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 50) tail.shift();
      let entry = null;
      try {
        entry = JSON.parse(line);
      } catch {
        // stderr text
      }
      if (entry?.msg === 'Touchline is running' && !running) {
        running = entry.url.replace('[::1]', '127.0.0.1');
        onRunning();
      } else if (entry && entry.level >= 40 && warnings.length < 20) {
        warnings.push(`${entry.msg}${entry.err?.message ? `: ${entry.err.message}` : ''}`);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  onCleanup(`server ${roles} (pid ${child.pid})`, stop);

  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error('timeout')), 60_000).unref(),
  );
  try {
    await Promise.race([
      ready,
      timeout,
      exited.then(({ code }) => {
        throw new Error(`exited with ${code}`);
      }),
    ]);
  } catch (error) {
    await stop();
    throw new Error(`server (${roles}) did not start: ${error.message}\n${tail.join('\n')}`);
  }
  return { url: running, pid: child.pid, child, stop, warnings, tail };
}
