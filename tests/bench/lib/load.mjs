// Runs tests/bench/loadgen.mjs as a child process and follows it.
import { fork } from 'node:child_process';
import path from 'node:path';
import { onCleanup } from './services.mjs';

const LOADGEN = path.join(import.meta.dirname, '../loadgen.mjs');

/**
 * Starts the load generator, which builds its request bodies first (`ready`). `go()` starts
 * the warm-up then the measured run and resolves with the result; `onMeasuring` fires when the
 * measured run starts, `onProgress(sent)` about four times a second during it.
 */
export function loadGenerator(config, { onProgress, onMeasuring } = {}) {
  const child = fork(LOADGEN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onCleanup(`load generator (pid ${child.pid})`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waiters = { ready: null, result: null };
  const settle = (name, how, value) => {
    const waiter = waiters[name];
    waiters[name] = null;
    waiter?.[how](value);
  };
  const ready = new Promise((resolve, reject) => (waiters.ready = { resolve, reject }));
  const result = new Promise((resolve, reject) => (waiters.result = { resolve, reject }));
  ready.catch(() => undefined);
  result.catch(() => undefined);
  const fail = (error) => {
    settle('ready', 'reject', error);
    settle('result', 'reject', error);
  };
  child.on('message', (message) => {
    if (message.type === 'ready') settle('ready', 'resolve', message);
    else if (message.type === 'measuring') onMeasuring?.();
    else if (message.type === 'progress') onProgress?.(message.sent);
    else if (message.type === 'result') settle('result', 'resolve', message);
    else if (message.type === 'error') fail(new Error(`load generator failed: ${message.message}`));
  });
  child.on('exit', (code) => {
    if (code !== 0) fail(new Error(`load generator exited with ${code}`));
  });
  child.send({ type: 'start', ...config });
  return {
    pid: child.pid,
    ready,
    go() {
      child.send({ type: 'go' });
      return result;
    },
  };
}
