import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { type ServerProcess, startServer } from './server-process';

/** A Touchline started as `npm start` does (embedded mode), with its keys and a SQL connection. */
export interface EmbeddedTouchline {
  readonly server: ServerProcess;
  readonly dataDir: string;
  /** The first-start write key and admin key from data/credentials.json. */
  readonly writeKey: string;
  readonly apiKey: string;
  /** Connected to the embedded database, whose URL the server logs at start. */
  readonly sql: Client;
  stop(): Promise<void>;
}

export async function startEmbeddedTouchline(
  name: string,
  env: Record<string, string> = {},
): Promise<EmbeddedTouchline> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `touchline-${name}-`));
  const server = await startServer({ TOUCHLINE_DATA_DIR: dataDir, ...env });
  const credentials = JSON.parse(
    await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
  ) as {
    writeKey: string;
    apiKey: string;
  };
  const url = server.logs.find((line) => line.msg === 'embedded database started')?.[
    'embeddedDatabaseUrl'
  ];
  if (typeof url !== 'string') throw new Error('the server did not log its embedded database URL');
  const sql = new Client({ connectionString: url });
  await sql.connect();
  return {
    server,
    dataDir,
    writeKey: credentials.writeKey,
    apiKey: credentials.apiKey,
    sql,
    async stop() {
      await sql.end();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
