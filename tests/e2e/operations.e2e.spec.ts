import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  basicAuth,
  eventually,
  REPO_ROOT,
  type ServerProcess,
  startServer,
} from './support/server-process';

const run = promisify(execFile);

interface ProjectionView {
  name: string;
  version: number;
  status: string;
  checkpointPosition: number;
  headPosition: number;
  lagEvents: number;
  lagSeconds: number;
  rebuild: { id: string; status: string; eventsApplied: number; targetEvents: number } | null;
}

/**
 * Visibility and projection operations against a real embedded server: /metrics moves with
 * the traffic and holds no personal data, lag reaches zero, a rebuild gives byte-for-byte the
 * read model the live projector built, and bad requests are refused with nothing changed.
 */
describe('operations: metrics, health, projection rebuilds (embedded mode)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let apiKey: string;
  let writeKey: string;
  let db: Client;
  const runId = randomUUID().slice(0, 8);
  const userIds = Array.from({ length: 40 }, (_, i) => `ops-${runId}-user-${i}`);
  const emails = userIds.map((id) => `${id}@example.org`);

  const cli = (...args: string[]) =>
    run(process.execPath, [
      path.join(REPO_ROOT, 'apps/server/dist/cli.js'),
      '--url',
      server.url,
      '--key',
      apiKey,
      ...args,
    ]);
  const admin = (route: string, init: RequestInit = {}) =>
    fetch(`${server.url}${route}`, {
      ...init,
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });
  const projection = async (name: string): Promise<ProjectionView> =>
    (await (await admin(`/v1/admin/projections/${name}`)).json()) as ProjectionView;
  const metrics = async (): Promise<string> => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  };
  const sample = (text: string, series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };
  const activityRows = async (): Promise<string> =>
    JSON.stringify(
      (
        await db.query(
          'SELECT * FROM read_models.customer_activity ORDER BY customer_key COLLATE "C"',
        )
      ).rows,
    );
  const caughtUp = (name: string) =>
    eventually(async () => {
      const view = await projection(name);
      return view.status === 'running' &&
        view.lagEvents === 0 &&
        view.headPosition > 0 &&
        view.checkpointPosition > 0
        ? view
        : undefined;
    }, 60_000);

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'touchline-operations-'));
    server = await startServer({ TOUCHLINE_DATA_DIR: dataDir });
    const credentials = JSON.parse(
      await readFile(path.join(dataDir, 'credentials.json'), 'utf8'),
    ) as { apiKey: string; writeKey: string };
    apiKey = credentials.apiKey;
    writeKey = credentials.writeKey;
    const databaseUrl = server.logs.find((l) => l.msg === 'embedded database started')?.[
      'embeddedDatabaseUrl'
    ];
    db = new Client({ connectionString: databaseUrl as string });
    await db.connect();

    // 40 customers, 1,200 events in batches of 300: enough for a rebuild to show progress.
    for (let batch = 0; batch < 4; batch += 1) {
      const response = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basicAuth(writeKey),
          'x-correlation-id': `ops-batch-${runId}-${batch}`,
        },
        body: JSON.stringify({
          batch: Array.from({ length: 300 }, (_, i) => {
            const user = (batch * 300 + i) % userIds.length;
            return i % 3 === 0
              ? {
                  type: 'identify',
                  userId: userIds[user],
                  traits: { email: emails[user] },
                  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, batch * 300 + i)).toISOString(),
                }
              : {
                  type: 'track',
                  userId: userIds[user],
                  event: i % 2 === 0 ? 'Viewed Plan' : 'Clicked Upgrade',
                  properties: { contact: emails[user] },
                  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, batch * 300 + i)).toISOString(),
                };
          }),
        }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-correlation-id')).toBe(`ops-batch-${runId}-${batch}`);
    }
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('counts events in, stored and rejected in /metrics, with no personal data in it', async () => {
    const before = await metrics();
    const bad = await fetch(`${server.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
      body: JSON.stringify({ userId: userIds[0], properties: { email: emails[0] } }),
    });
    expect(bad.status).toBe(400);
    const after = await eventually(async () => {
      const text = await metrics();
      return sample(text, 'touchline_dead_letters_stored_total{reason="INVALID_EVENT"}') >
        sample(before, 'touchline_dead_letters_stored_total{reason="INVALID_EVENT"}')
        ? text
        : undefined;
    });
    expect(sample(after, 'touchline_collector_events_accepted_total{channel="web"}')).toBe(1_200);
    expect(sample(after, 'touchline_collector_events_rejected_total{channel="web"}')).toBe(
      sample(before, 'touchline_collector_events_rejected_total{channel="web"}') + 1,
    );
    expect(sample(after, 'touchline_collector_events_received_total{channel="web"}')).toBe(1_201);
    expect(sample(after, 'touchline_recorder_events_stored_total')).toBeGreaterThanOrEqual(1_200);
    expect(after).toMatch(/^touchline_database_oldest_transaction_age_seconds \d/m);
    expect(after).toMatch(/^touchline_projection_lag_events\{projection="customer_activity"\} \d/m);
    expect(after).toMatch(/^touchline_process_cpu_seconds_total /m);
    for (const secret of [...userIds, ...emails, writeKey, apiKey]) {
      expect(after).not.toContain(secret);
    }
  });

  it('logs each request with its correlation id and echoes the id back', async () => {
    const correlationId = `ops-corr-${runId}`;
    const response = await fetch(`${server.url}/health/live`, {
      headers: { 'x-correlation-id': correlationId },
    });
    expect(response.headers.get('x-correlation-id')).toBe(correlationId);
    const generated = (await fetch(`${server.url}/v1/nothing-here`)).headers.get(
      'x-correlation-id',
    );
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const line = await eventually(() =>
      Promise.resolve(
        server.logs.find((l) => l.msg === 'request' && l['correlationId'] === generated),
      ),
    );
    expect(line).toMatchObject({ status: 404, method: 'GET', route: '(unmatched)' });
    // The batch posts' ids reached the request log of the collector route.
    expect(
      server.logs.some(
        (l) =>
          l.msg === 'request' &&
          l['correlationId'] === `ops-batch-${runId}-0` &&
          l['route'] === '/v1/batch',
      ),
    ).toBe(true);
  });

  it('reports each projector in readiness and lists projections with lag going to 0', async () => {
    const ready = (await (await fetch(`${server.url}/health/ready`)).json()) as {
      status: string;
      projectors: Array<{ projection: string; state: string }>;
    };
    expect(ready.status).toBe('ok');
    expect(ready.projectors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ projection: 'customer_activity', state: 'running' }),
        expect.objectContaining({ projection: 'web_touchpoints', state: 'running' }),
      ]),
    );
    await caughtUp('customer_activity');
    const { stdout } = await cli('projections', 'list', '--json');
    const listed = JSON.parse(stdout) as { items: ProjectionView[] };
    const activity = listed.items.find((p) => p.name === 'customer_activity');
    expect(activity).toMatchObject({ version: 1, lagEvents: 0, lagSeconds: 0 });
    expect(activity?.checkpointPosition).toBeGreaterThan(0);
    const table = (await cli('projections', 'list')).stdout;
    expect(table).toMatch(/customer_activity\s+1\s+running/);
  });

  it('rebuilds customer_activity through the CLI with a progress bar and the same rows', async () => {
    await caughtUp('customer_activity');
    const before = await activityRows();
    expect(JSON.parse(before)).toHaveLength(userIds.length);

    const { stdout, stderr } = await cli('projections', 'rebuild', 'customer_activity');
    expect(stdout).toMatch(/completed/);
    // Progress lines: a bar, the percentage, events/s and finally the outcome.
    expect(stderr).toMatch(/customer_activity \[[#-]{24}\]\s+[\d.]+%\s+\d+\/\d+ events/);
    expect(stderr).toMatch(/100\.0%\s+(\d+)\/\1 events\s+\S+ ev\/s\s+completed/);

    const view = await caughtUp('customer_activity');
    expect(view.rebuild).toMatchObject({ status: 'completed' });
    expect(view.rebuild?.eventsApplied).toBe(view.rebuild?.targetEvents);
    expect(await activityRows()).toBe(before);
  });

  it('refuses an unknown projection, a second rebuild and a range that does not exist, changing nothing', async () => {
    await caughtUp('customer_activity');
    const before = await activityRows();
    const checkpointBefore = (await projection('customer_activity')).checkpointPosition;

    const unknown = await admin('/v1/admin/projections/no_such_view/rebuild', {
      method: 'POST',
      body: '{}',
    });
    expect(unknown.status).toBe(404);
    const unknownBody = (await unknown.json()) as { error: { code: string; message: string } };
    expect(unknownBody.error.code).toBe('UNKNOWN_PROJECTION');
    expect(unknownBody.error.message).toContain('customer_activity');
    expect(unknownBody.error.message).toContain('web_touchpoints');

    const head = (await projection('customer_activity')).headPosition;
    const range = await admin('/v1/admin/projections/customer_activity/rebuild', {
      method: 'POST',
      body: JSON.stringify({ to: head + 1_000 }),
    });
    expect(range.status).toBe(400);
    expect(await range.json()).toMatchObject({ error: { code: 'INVALID_RANGE' } });
    expect((await projection('customer_activity')).checkpointPosition).toBe(checkpointBefore);
    expect(await activityRows()).toBe(before);

    // Two at once: the database lets exactly one run.
    const [first, second] = await Promise.all([
      admin('/v1/admin/projections/web_touchpoints/rebuild', { method: 'POST', body: '{}' }),
      admin('/v1/admin/projections/web_touchpoints/rebuild', { method: 'POST', body: '{}' }),
    ]);
    expect([first.status, second.status].sort()).toEqual([202, 409]);
    const accepted = (await (first.status === 202 ? first : second).json()) as {
      rebuild: { id: string };
    };
    const refused = (await (first.status === 409 ? first : second).json()) as {
      error: { code: string; details: { rebuildId: string } };
    };
    expect(refused.error).toMatchObject({
      code: 'REBUILD_RUNNING',
      details: { rebuildId: accepted.rebuild.id },
    });
    const done = await eventually(async () => {
      const view = await projection('web_touchpoints');
      return view.rebuild?.status === 'completed' && view.lagEvents === 0 ? view : undefined;
    }, 60_000);
    expect(done.rebuild?.id).toBe(accepted.rebuild.id);

    const noneRunning = await admin('/v1/admin/projections/web_touchpoints/rebuild', {
      method: 'DELETE',
    });
    expect(noneRunning.status).toBe(404);
    expect(await noneRunning.json()).toMatchObject({ error: { code: 'NO_REBUILD_RUNNING' } });

    const audit = (await (await admin('/v1/admin/audit?limit=50')).json()) as {
      items: Array<{ action: string; target: string; outcome: string }>;
    };
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'projection.rebuild',
          target: 'no_such_view',
          outcome: 'not-found',
        }),
        expect.objectContaining({
          action: 'projection.rebuild',
          target: 'customer_activity',
          outcome: 'refused',
        }),
        expect.objectContaining({
          action: 'projection.rebuild',
          target: 'web_touchpoints',
          outcome: 'done',
        }),
        expect.objectContaining({
          action: 'projection.rebuild',
          target: 'web_touchpoints',
          outcome: 'refused',
        }),
      ]),
    );
  });

  it('hands a cancelled rebuild back to the live projector, which ends with the same rows', async () => {
    await caughtUp('customer_activity');
    const before = await activityRows();
    const started = await admin('/v1/admin/projections/customer_activity/rebuild', {
      method: 'POST',
      body: '{}',
    });
    expect(started.status).toBe(202);
    const cancel = await admin('/v1/admin/projections/customer_activity/rebuild', {
      method: 'DELETE',
    });
    // On a fast machine the rebuild may already be done; either way the rows converge.
    expect([200, 404]).toContain(cancel.status);
    const view = await eventually(async () => {
      const current = await projection('customer_activity');
      return current.rebuild?.status !== 'running' &&
        current.status === 'running' &&
        current.lagEvents === 0
        ? current
        : undefined;
    }, 60_000);
    // A cancel that arrives during the last batch still lets that rebuild complete.
    expect(cancel.status === 200 ? ['cancelled', 'completed'] : ['completed']).toContain(
      view.rebuild?.status,
    );
    expect(await activityRows()).toBe(before);
  });
});
