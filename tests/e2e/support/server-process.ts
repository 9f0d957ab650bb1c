import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(REPO_ROOT, 'apps/server/dist/main.js');

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line the process wrote, raw (for the no-personal-data scan) and parsed. */
  readonly output: string[];
  readonly logs: LogLine[];
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash at an arbitrary point. */
  kill(): Promise<void>;
}

/**
 * Start `node apps/server/dist/main.js` (the real entry point, built by the typecheck step or by
 * this suite's global setup) and wait until it says it is listening.
 */
export async function startServer(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      TOUCHLINE_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const logs: LogLine[] = [];
  let stopping = false;
  child.once('exit', (code, signal) => {
    // An exit nobody asked for is the most useful thing to see when a test fails.
    if (!stopping)
      process.stderr.write(
        `server ${MAIN} exited unexpectedly (${code ?? signal}):\n${output.slice(-20).join('\n')}\n`,
      );
  });
  let exited: Promise<number | null> = new Promise((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      output.push(line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // Not JSON (stderr text): kept in output only.
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`server did not start within ${timeoutMs} ms:\n${output.slice(-30).join('\n')}`),
      );
    }, timeoutMs);
    const poll = setInterval(() => {
      const running = logs.find((line) => line.msg === 'Touchline is running');
      if (running && typeof running['url'] === 'string') {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(running['url'].replace('[::1]', '127.0.0.1'));
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(
        new Error(
          `server exited with ${code} before it was ready:\n${output.slice(-30).join('\n')}`,
        ),
      );
    });
  });
  exited = exited.then((code) => code);

  return {
    url,
    child,
    output,
    logs,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Poll until `check` returns a value (not undefined), or fail with the last error. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}
