import { Worker } from 'node:worker_threads';

export interface EmbeddedPostgresOptions {
  /** Directory holding the database files; undefined keeps the database in memory. */
  readonly dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /**
   * Client connections the socket server accepts (default 16). PGlite runs one session: the
   * server queues statements and lets an open transaction's connection go first.
   */
  readonly maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** postgres:// URL that plain `pg` connects to. */
  readonly url: string;
  /** Closes client connections, the server and the database (flushing it to dataDir). */
  stop(): Promise<void>;
}

type WorkerMessage =
  | { readonly type: 'ready'; readonly address: string }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly message: string };

/**
 * Runs in a worker thread: PGlite's WebAssembly backend then never blocks the caller's event
 * loop, and it loads through Node's own module loader (PGlite imports files dynamically, which
 * sandboxes such as Jest's do not allow).
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const { PGLiteSocketServer } = require(workerData.socketPath);
let db;
let server;
(async () => {
  db = await PGlite.create(workerData.dataDir);
  server = new PGLiteSocketServer({
    db, host: '127.0.0.1', port: workerData.port, maxConnections: workerData.maxConnections,
  });
  await server.start();
  parentPort.postMessage({ type: 'ready', address: server.getServerConn() });
})().catch((error) => parentPort.postMessage({ type: 'failed', message: String(error && error.stack || error) }));

parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  try {
    if (server) await server.stop();
    if (db) {
      // A detached connection may still be rolling back its open transaction: wait for it.
      await db.runExclusive(async () => undefined);
      if (db.isInTransaction()) await db.exec('ROLLBACK');
      await db.close();
    }
    parentPort.postMessage({ type: 'stopped' });
  } catch (error) {
    parentPort.postMessage({ type: 'failed', message: String(error && error.stack || error) });
  }
});
`;

/**
 * PGlite served over PostgreSQL's wire protocol on 127.0.0.1, so the same `pg` code runs in
 * embedded mode and against a real server. One process per dataDir: PGlite does not lock it.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      pglitePath: require.resolve('@electric-sql/pglite'),
      socketPath: require.resolve('@electric-sql/pglite-socket'),
      dataDir: options.dataDir,
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 16,
    },
  });
  const nextMessage = () =>
    new Promise<WorkerMessage>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(new Error(`Embedded PostgreSQL worker exited with code ${code}`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (message: WorkerMessage) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        resolve(message);
      });
    });

  const started = await nextMessage().catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  if (started.type !== 'ready') {
    await worker.terminate();
    throw new Error(
      `Embedded PostgreSQL failed to start: ${started.type === 'failed' ? started.message : started.type}`,
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${started.address}/postgres`,
    stop: () => {
      stopping ??= (async () => {
        const stopped = nextMessage();
        worker.postMessage('stop');
        const outcome = await stopped.finally(() => worker.terminate());
        if (outcome.type === 'failed') {
          throw new Error(`Embedded PostgreSQL did not stop cleanly: ${outcome.message}`);
        }
      })();
      return stopping;
    },
  };
}
