// The real services the benchmark runs against: a fresh PostgreSQL database per use, and a Kafka
// broker (the one in KAFKA_BROKERS, or our own started from infra/kafka with a private state
// directory). Everything started here is registered for cleanup, which runs on success, on an
// error and on Ctrl-C.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { log } from './report.mjs';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

const cleanups = [];

/** Run `fn` at cleanup, latest first. */
export function onCleanup(name, fn) {
  cleanups.push({ name, fn });
}

let cleaning = null;
export function cleanupAll() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { name, fn } = cleanups.pop();
      try {
        await fn();
      } catch (error) {
        process.stderr.write(`cleanup of ${name} failed: ${error?.message ?? error}\n`);
      }
    }
  })();
  return cleaning;
}

export function serverUrl() {
  return (
    process.env.TOUCHLINE_TEST_DATABASE_URL ||
    process.env.DATABASE_SERVER_URL ||
    'postgres://postgres@127.0.0.1:5432/postgres'
  );
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database tl_bench_<random>_<label>, dropped at cleanup. */
export async function createDatabase(label) {
  const name = `tl_bench_${randomBytes(4).toString('hex')}_${label}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(`database ${name}`, () => dropDatabase(name));
  return { name, url: withDatabase(serverUrl(), name) };
}

async function dropDatabase(name) {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Server facts for the report (version, settings that shape write throughput). */
export async function postgresInfo(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const settings = await client.query(
      `SELECT name, setting, unit FROM pg_settings
        WHERE name IN ('synchronous_commit', 'shared_buffers', 'wal_level', 'fsync', 'max_wal_size', 'shared_preload_libraries')`,
    );
    const version = (await client.query('SHOW server_version')).rows[0].server_version;
    return {
      version,
      settings: Object.fromEntries(
        settings.rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]),
      ),
    };
  } finally {
    await client.end();
  }
}

function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${stderr}`)),
    );
  });
}

/**
 * KAFKA_BROKERS when set; otherwise a broker of our own (infra/kafka/start.sh with a temporary
 * KAFKA_STATE_DIR, so a developer's broker is untouched), stopped at cleanup.
 */
export async function kafka() {
  if (process.env.KAFKA_BROKERS) {
    return { brokers: process.env.KAFKA_BROKERS, pid: null, own: false };
  }
  const stateDir = await mkdtemp(path.join(tmpdir(), 'tl-bench-kafka-'));
  const env = { ...process.env, KAFKA_STATE_DIR: stateDir };
  onCleanup('kafka broker', async () => {
    log('Stopping the benchmark Kafka broker...');
    await run('bash', ['infra/kafka/stop.sh'], env).catch((error) => {
      process.stderr.write(`${error.message}\n`);
    });
    await rm(stateDir, { recursive: true, force: true });
  });
  log('Starting a Kafka broker for this run (infra/kafka/start.sh)...');
  const started = performance.now();
  const { stdout } = await run('bash', ['infra/kafka/start.sh'], env);
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
  if (!brokers) throw new Error(`infra/kafka/start.sh printed no KAFKA_BROKERS:\n${stdout}`);
  const { readFile } = await import('node:fs/promises');
  const pid = Number((await readFile(path.join(stateDir, 'broker.pid'), 'utf8')).trim());
  log(
    `Kafka ready at ${brokers} (pid ${pid}) in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
  );
  return { brokers, pid, own: true };
}

/** PostgreSQL backend pids serving the given databases (for CPU accounting). */
export async function backendPids(client, databases) {
  const result = await client.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()',
    [databases],
  );
  return result.rows.map((r) => r.pid);
}
