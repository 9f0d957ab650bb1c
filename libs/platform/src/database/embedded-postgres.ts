import { Worker } from 'node:worker_threads';

export interface EmbeddedPostgresOptions {
  /** Directory holding the database files; undefined keeps the database in memory. */
  readonly dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly port?: number;
  /**
   * Client connections the server accepts (default 16). PGlite runs one session: the server
   * queues requests, and a connection with an open transaction goes alone until it ends.
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
 *
 * PGlite is one session, so client connections are multiplexed onto it here. pglite-socket's
 * server does that per protocol message, which lets two clients' extended-protocol sequences
 * (Parse/Bind/Execute/Sync) interleave and corrupt each other under load. This server queues
 * whole units instead (a simple Query, or everything up to Sync/Flush), and while a unit leaves
 * a transaction open only that connection's units run, until the transaction ends.
 */
const workerSource = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const UNIT_ENDS = new Set(['S', 'Q', 'H', 'c', 'f']);

let db;
let server;
const sockets = new Set();
const queue = [];
let owner = null;
let running = null;

function enqueue(job) {
  queue.push(job);
  if (!running) running = pump().finally(() => { running = null; });
}

async function pump() {
  while (queue.length > 0) {
    const index = owner === null ? 0 : queue.findIndex((job) => job.connection === owner);
    if (index < 0) return;
    const [job] = queue.splice(index, 1);
    try {
      await db.runExclusive(async () => {
        if (job.rollback) {
          if (db.isInTransaction()) await db.exec('ROLLBACK');
          return;
        }
        for (const message of job.messages) {
          await db.execProtocolRawStream(message, {
            onRawData: (data) => { if (!job.connection.destroyed) job.connection.write(Buffer.from(data)); },
          });
        }
      });
    } catch (error) {
      job.connection.destroy();
    }
    owner = !job.rollback && db.isInTransaction() ? job.connection : null;
    // Its client left while this unit ran: nobody will end the transaction but us.
    if (owner !== null && !sockets.has(owner)) queue.unshift({ connection: owner, rollback: true });
  }
}

function serve(socket) {
  sockets.add(socket);
  socket.setNoDelay(true);
  let buffer = Buffer.alloc(0);
  let started = false;
  let unit = [];
  const closed = () => {
    if (!sockets.delete(socket)) return;
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i].connection === socket) queue.splice(i, 1);
    // A client gone mid-transaction: roll it back before anyone else runs.
    if (owner === socket) { queue.unshift({ connection: socket, rollback: true }); if (!running) running = pump().finally(() => { running = null; }); }
  };
  socket.on('close', closed);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      if (!started) {
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        const code = buffer.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) { buffer = buffer.subarray(8); socket.write('N'); continue; }
        if (buffer.length < length) return;
        const message = new Uint8Array(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        if (code === CANCEL_REQUEST) { socket.end(); return; }
        started = true;
        enqueue({ connection: socket, messages: [message] });
        continue;
      }
      if (buffer.length < 5) return;
      const length = buffer.readInt32BE(1) + 1;
      if (buffer.length < length) return;
      const type = String.fromCharCode(buffer[0]);
      const message = new Uint8Array(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
      if (type === 'X') { socket.end(); return; }
      unit.push(message);
      if (UNIT_ENDS.has(type)) { enqueue({ connection: socket, messages: unit }); unit = []; }
    }
  });
}

(async () => {
  db = await PGlite.create(workerData.dataDir);
  server = net.createServer(serve);
  server.maxConnections = workerData.maxConnections;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(workerData.port, '127.0.0.1', resolve);
  });
  parentPort.postMessage({ type: 'ready', address: '127.0.0.1:' + server.address().port });
})().catch((error) => parentPort.postMessage({ type: 'failed', message: String(error && error.stack || error) }));

parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  try {
    if (server) await new Promise((resolve) => { server.close(() => resolve()); for (const socket of sockets) socket.destroy(); });
    while (running) await running;
    if (db) {
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
