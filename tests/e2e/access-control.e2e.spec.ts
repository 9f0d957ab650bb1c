import { createHash, randomUUID } from 'node:crypto';
import { type EmbeddedTouchline, startEmbeddedTouchline } from './support/embedded-touchline';
import { basicAuth, eventually } from './support/server-process';

/**
 * Access control on every operation the OpenAPI document lists, against a real embedded
 * Touchline: the public ones are named here, everything else must refuse a missing, wrong,
 * expired or revoked key (401) and a key of the wrong role (403), and never echo the key. Then
 * hostile values in every query parameter, which must never cause a 5xx or touch the database.
 */

/**
 * Operations anyone may call: they check their own credentials (a write key in the request,
 * the provider's signature, a signed link) or serve nothing secret. An operation the document
 * gains that is not listed here is treated as key-protected, so an unprotected addition fails.
 */
const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set([
  'GET /health/live',
  'GET /health/ready',
  'GET /tracker.js',
  // Segment collector and direct touchpoints: a write key as Basic user name or in the body.
  'POST /v1/track',
  'POST /v1/page',
  'POST /v1/identify',
  'POST /v1/screen',
  'POST /v1/group',
  'POST /v1/alias',
  'POST /v1/batch',
  'POST /v1/calls',
  'POST /v1/contacts',
  'POST /v1/consent',
  // Provider webhooks: the provider's signature or credentials.
  'POST /v1/webhooks/sendgrid/{sourceId}',
  'POST /v1/webhooks/mailgun/{sourceId}',
  'POST /v1/webhooks/ses/{sourceId}',
  'POST /v1/webhooks/postmark/{sourceId}',
  'POST /v1/webhooks/twilio/voice/{sourceId}',
  'POST /v1/webhooks/twilio/sms/{sourceId}',
  'POST /v1/webhooks/twilio/sms-status/{sourceId}',
  // Signed tracked links and the open pixel.
  'GET /v1/t/click',
  'GET /v1/t/open',
  // Not in the document, served all the same: the document itself, and metrics (own token).
  'GET /openapi.json',
  'GET /metrics',
]);

/** Public operations that take a write key: they must refuse a request without one. */
const WRITE_KEY_OPERATIONS = [
  '/v1/track',
  '/v1/page',
  '/v1/identify',
  '/v1/screen',
  '/v1/group',
  '/v1/alias',
  '/v1/batch',
  '/v1/calls',
  '/v1/contacts',
  '/v1/consent',
];

/**
 * Query parameter names a GET operation reads that the document gives only as a pattern (the
 * profile search's `trait` is a deepObject: `trait[plan]`, also read as `trait.plan`); they get
 * the same hostile values as the declared ones.
 */
const UNDECLARED_QUERY_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  'GET /v1/profiles': ['trait.plan', 'trait[plan]'],
};

const METRICS_TOKEN = `metrics-${randomUUID()}`;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface Operation {
  readonly method: Uppercase<(typeof METHODS)[number]>;
  readonly path: string;
  readonly id: string;
  readonly security: unknown;
  readonly queryParameters: readonly string[];
  readonly pathParameters: readonly string[];
}

interface OpenApiDocument {
  paths: Record<
    string,
    Partial<
      Record<
        (typeof METHODS)[number],
        { security?: unknown; parameters?: Array<{ name: string; in: string }> }
      >
    >
  >;
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly headers: string;
}

interface CreatedKey {
  readonly key: string;
  readonly keyId: string;
}

/** Admin operations are those under /v1/admin/ (the controllers there require the admin role). */
const isAdminOperation = (operation: Operation): boolean => operation.path.startsWith('/v1/admin/');

describe('access control on every operation of the OpenAPI document', () => {
  let touchline: EmbeddedTouchline;
  let operations: Operation[];
  let protectedOperations: Operation[];
  /** Key ids whose creation or revocation this suite caused, for the audit check. */
  const created: Array<{ action: 'key.create' | 'source.create'; keyId: string }> = [];
  const revoked: string[] = [];
  /** Every secret this suite handled: none may appear in an answer's listing or in the log. */
  const secrets: string[] = [METRICS_TOKEN];
  let analyst: CreatedKey;

  const serverUrl = (): string => touchline.server.url;

  const request = async (
    method: string,
    route: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<Answer> => {
    const response = await fetch(`${serverUrl()}${route}`, {
      method,
      redirect: 'manual',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });
    return {
      status: response.status,
      text: await response.text(),
      headers: JSON.stringify([...response.headers.entries()]),
    };
  };

  const admin = (method: string, route: string, body?: unknown): Promise<Answer> =>
    request(
      method,
      route,
      { authorization: `Bearer ${touchline.apiKey}` },
      body === undefined ? undefined : JSON.stringify(body),
    );

  const createKey = async (
    role: 'analyst' | 'admin',
    label: string,
    expiresAt?: Date,
  ): Promise<CreatedKey> => {
    const answer = await admin('POST', '/v1/admin/keys', {
      role,
      label,
      ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
    });
    expect(answer.status).toBe(201);
    const key = JSON.parse(answer.text) as CreatedKey;
    created.push({ action: 'key.create', keyId: key.keyId });
    secrets.push(key.key);
    return key;
  };

  const revoke = async (keyId: string, as = touchline.apiKey): Promise<void> => {
    const answer = await request('DELETE', `/v1/admin/keys/${keyId}`, {
      authorization: `Bearer ${as}`,
    });
    expect(answer.status).toBe(200);
    revoked.push(keyId);
  };

  /** The operation's URL with every path parameter filled (a fresh UUID unless given). */
  const routeOf = (operation: Operation, values: Record<string, string> = {}): string =>
    operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) =>
      encodeURIComponent(values[name] ?? randomUUID()),
    );

  const call = (operation: Operation, headers: Record<string, string>): Promise<Answer> =>
    request(
      operation.method,
      routeOf(operation),
      headers,
      operation.method === 'GET' ? undefined : '{}',
    );

  /**
   * Call every operation with `headers`; return the ones whose status is not `expected`, and
   * every answer that repeats the secret.
   */
  const refusals = async (
    subjects: readonly Operation[],
    headers: Record<string, string>,
    expected: number,
    secret: string,
  ): Promise<string[]> => {
    const problems: string[] = [];
    for (const operation of subjects) {
      const answer = await call(operation, headers);
      if (answer.status !== expected) problems.push(`${operation.id}: ${answer.status}`);
      if (secret.length > 0 && (answer.text.includes(secret) || answer.headers.includes(secret)))
        problems.push(`${operation.id}: the answer repeats the key`);
      if (answer.status === expected) {
        const error = (JSON.parse(answer.text) as { error?: { code?: string } }).error;
        if (error?.code !== (expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN'))
          problems.push(`${operation.id}: error code ${String(error?.code)}`);
      }
    }
    return problems;
  };

  beforeAll(async () => {
    touchline = await startEmbeddedTouchline('access-control', {
      TOUCHLINE_METRICS_TOKEN: METRICS_TOKEN,
    });
    const answer = await request('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    const document = JSON.parse(answer.text) as OpenApiDocument;
    operations = Object.entries(document.paths).flatMap(([route, item]) =>
      METHODS.flatMap((method) => {
        const operation = item[method];
        if (!operation) return [];
        const parameters = operation.parameters ?? [];
        const upper = method.toUpperCase() as Operation['method'];
        return [
          {
            method: upper,
            path: route,
            id: `${upper} ${route}`,
            security: operation.security,
            queryParameters: parameters.filter((p) => p.in === 'query').map((p) => p.name),
            pathParameters: parameters.filter((p) => p.in === 'path').map((p) => p.name),
          },
        ];
      }),
    );
    protectedOperations = operations.filter((operation) => !PUBLIC_OPERATIONS.has(operation.id));
    analyst = await createKey('analyst', 'access-control analyst');
  }, 180_000);

  afterAll(async () => {
    await touchline?.stop();
  });

  it('lists every operation, and every one not named public is documented as key-protected', () => {
    // Sanity: the document is the real one, with the public and protected families in it.
    expect(operations.length).toBeGreaterThan(40);
    expect(protectedOperations.some(isAdminOperation)).toBe(true);
    expect(protectedOperations.some((operation) => !isAdminOperation(operation))).toBe(true);
    // Stale entries in the public list would hide nothing, but they mislead the reader.
    const documented = new Set(operations.map((operation) => operation.id));
    const stale = [...PUBLIC_OPERATIONS].filter(
      (id) => !documented.has(id) && id !== 'GET /openapi.json' && id !== 'GET /metrics',
    );
    expect(stale).toEqual([]);
    const undocumented = protectedOperations
      .filter((operation) => JSON.stringify(operation.security) !== '[{"apiKey":[]}]')
      .map((operation) => operation.id);
    expect(undocumented).toEqual([]);
  });

  it('refuses every protected operation without a key, with an unknown key and with a malformed one (401)', async () => {
    const unknown = `tlk_${randomUUID()}`;
    expect(await refusals(protectedOperations, {}, 401, '')).toEqual([]);
    expect(
      await refusals(protectedOperations, { authorization: `Bearer ${unknown}` }, 401, unknown),
    ).toEqual([]);
    expect(await refusals(protectedOperations, { 'x-api-key': unknown }, 401, unknown)).toEqual([]);
    const injected = "' OR 1=1--";
    expect(
      await refusals(protectedOperations, { authorization: `Bearer ${injected}` }, 401, injected),
    ).toEqual([]);
    const oversized = `tlk_${'k'.repeat(4_000)}`;
    expect(
      await refusals(protectedOperations, { authorization: `Bearer ${oversized}` }, 401, oversized),
    ).toEqual([]);
    // An admin key sent as a Basic user name is not an API key.
    expect(
      await refusals(
        protectedOperations,
        { authorization: basicAuth(touchline.apiKey) },
        401,
        touchline.apiKey,
      ),
    ).toEqual([]);
  }, 300_000);

  it('refuses an expired key on every protected operation (401), also one used before it expired', async () => {
    const expiresAt = new Date(Date.now() + 3_000);
    const expiring = await createKey('analyst', 'access-control expiring', expiresAt);
    // Used while valid: the server may cache the lookup, but not past the expiry.
    const before = await request('GET', `/v1/customers/${randomUUID()}`, {
      authorization: `Bearer ${expiring.key}`,
    });
    expect([200, 404]).toContain(before.status);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now()) + 500),
    );
    expect(
      await refusals(
        protectedOperations,
        { authorization: `Bearer ${expiring.key}` },
        401,
        expiring.key,
      ),
    ).toEqual([]);
    // A date in the past is refused at creation.
    const past = await admin('POST', '/v1/admin/keys', {
      role: 'analyst',
      label: 'already expired',
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(past.status).toBe(400);
  }, 300_000);

  it('refuses a revoked key on every protected operation at once (401)', async () => {
    const doomed = await createKey('analyst', 'access-control revoked');
    const before = await request('GET', `/v1/customers/${randomUUID()}`, {
      authorization: `Bearer ${doomed.key}`,
    });
    expect([200, 404]).toContain(before.status);
    await revoke(doomed.keyId);
    expect(
      await refusals(
        protectedOperations,
        { 'x-api-key': doomed.key, authorization: `Bearer ${doomed.key}` },
        401,
        doomed.key,
      ),
    ).toEqual([]);
  }, 300_000);

  it('refuses an analyst key on every admin operation (403) and admits it to every analyst read', async () => {
    const adminOperations = protectedOperations.filter(isAdminOperation);
    expect(
      await refusals(adminOperations, { authorization: `Bearer ${analyst.key}` }, 403, analyst.key),
    ).toEqual([]);
    const analystReads = protectedOperations.filter(
      (operation) => !isAdminOperation(operation) && operation.method === 'GET',
    );
    const refused: string[] = [];
    for (const operation of analystReads) {
      const answer = await call(operation, { authorization: `Bearer ${analyst.key}` });
      if (answer.status === 401 || answer.status === 403 || answer.status >= 500)
        refused.push(`${operation.id}: ${answer.status}`);
      if (answer.text.includes(analyst.key)) refused.push(`${operation.id}: repeats the key`);
    }
    expect(refused).toEqual([]);
  }, 300_000);

  it('refuses a write key on every analyst and admin operation', async () => {
    const source = await admin('POST', '/v1/admin/sources', {
      sourceId: `ac-${randomUUID().slice(0, 8)}`,
      channel: 'web',
    });
    expect(source.status).toBe(201);
    const writeKey = JSON.parse(source.text) as CreatedKey;
    created.push({ action: 'source.create', keyId: writeKey.keyId });
    secrets.push(writeKey.key);
    for (const key of [writeKey.key, touchline.writeKey]) {
      // As an API key: known, but of the ingestion role.
      expect(
        await refusals(protectedOperations, { authorization: `Bearer ${key}` }, 403, key),
      ).toEqual([]);
      // As the collector takes it (Basic user name): not an API key at all.
      expect(
        await refusals(protectedOperations, { authorization: basicAuth(key) }, 401, key),
      ).toEqual([]);
    }
  }, 300_000);

  it('lets the public write-key endpoints refuse requests without a write key, and API keys', async () => {
    const problems: string[] = [];
    for (const route of WRITE_KEY_OPERATIONS) {
      const variants: Array<Record<string, string>> = [
        {},
        { authorization: `Bearer ${touchline.apiKey}` },
        { authorization: basicAuth(touchline.apiKey) },
        { authorization: basicAuth(analyst.key) },
      ];
      for (const headers of variants) {
        const answer = await request('POST', route, headers, '{}');
        if (answer.status !== 401) problems.push(`POST ${route}: ${answer.status}`);
        if (answer.text.includes(touchline.apiKey) || answer.text.includes(analyst.key))
          problems.push(`POST ${route}: repeats the key`);
      }
    }
    expect(problems).toEqual([]);
    // Webhooks with no signature store nothing and answer a 4xx (unconfigured providers: 4xx/503).
    for (const operation of operations.filter((o) => o.path.startsWith('/v1/webhooks/'))) {
      const answer = await call(operation, {});
      expect([400, 401, 403, 404, 503]).toContain(answer.status);
    }
  }, 300_000);

  it('serves metrics only with the metrics token, never for an API key (401 otherwise)', async () => {
    const statusWith = async (headers: Record<string, string>) =>
      (await request('GET', '/metrics', headers)).status;
    expect({
      none: await statusWith({}),
      apiKey: await statusWith({ authorization: `Bearer ${touchline.apiKey}` }),
      wrongToken: await statusWith({ authorization: `Bearer ${randomUUID()}` }),
      token: await statusWith({ authorization: `Bearer ${METRICS_TOKEN}` }),
    }).toEqual({ none: 401, apiKey: 401, wrongToken: 401, token: 200 });
  });

  it('rotates an admin key: create the new one, switch to it, revoke the old one', async () => {
    const old = await createKey('admin', 'access-control rotation old');
    const next = await createKey('admin', 'access-control rotation new');
    const keysAs = (key: string) =>
      request('GET', '/v1/admin/keys', { authorization: `Bearer ${key}` });
    expect((await keysAs(old.key)).status).toBe(200);
    expect((await keysAs(next.key)).status).toBe(200);
    await revoke(old.keyId, next.key);
    expect((await keysAs(old.key)).status).toBe(401);
    const listed = await keysAs(next.key);
    expect(listed.status).toBe(200);
    // The listing shows ids, roles and dates, never a secret.
    for (const secret of [old.key, next.key, touchline.apiKey, touchline.writeKey, analyst.key])
      expect(listed.text).not.toContain(secret);
    const items = (
      JSON.parse(listed.text) as { items: Array<{ keyId: string; revokedAt: unknown }> }
    ).items;
    expect(items.find((item) => item.keyId === old.keyId)?.revokedAt).not.toBeNull();
  });

  it('answers hostile values in every query parameter with 400 or normally, never 5xx, and leaves the database as it was', async () => {
    // A customer to point path parameters at, so the query parameters are actually read.
    const userId = `ac-${randomUUID()}`;
    const sent = await request(
      'POST',
      '/v1/identify',
      { authorization: basicAuth(touchline.writeKey) },
      JSON.stringify({ userId, traits: { plan: 'pro' } }),
    );
    expect(sent.status).toBe(200);
    const customerId = await eventually(async () => {
      const answer = await admin('GET', `/v1/profiles/lookup?userId=${userId}`);
      return answer.status === 200
        ? (JSON.parse(answer.text) as { customerId: string }).customerId
        : undefined;
    }, 60_000);
    const pathValues = (operation: Operation): Record<string, string> =>
      Object.fromEntries(
        operation.pathParameters.map((name) => [
          name,
          name === 'customerId'
            ? customerId
            : operation.path.startsWith('/v1/customers/{id}')
              ? userId
              : randomUUID(),
        ]),
      );

    const snapshot = async () => {
      const tables = await touchline.sql.query<{ name: string }>(
        `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
          WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      );
      const counts = await touchline.sql.query<{ keys: string; events: string; audit: string }>(
        `SELECT (SELECT count(*) FROM access.api_keys) AS keys,
                (SELECT count(*) FROM event_store.events) AS events,
                (SELECT count(*) FROM access.audit_log) AS audit`,
      );
      const keyRows = await touchline.sql.query<{ row: string }>(
        `SELECT id || role || key_hash || coalesce(revoked_at::text, '') AS row
           FROM access.api_keys ORDER BY id`,
      );
      return {
        tables: tables.rows.map((r) => r.name),
        keys: counts.rows[0]?.keys,
        events: counts.rows[0]?.events,
        keyRows: keyRows.rows.map((r) => r.row),
        audit: Number(counts.rows[0]?.audit),
      };
    };
    // Let the identify land everywhere before taking the snapshot.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = await snapshot();

    // Sent inside hostile values: the log must not repeat it (values may be personal data).
    const marker = `marker${randomUUID().replace(/-/g, '')}`;
    /** Already URL-encoded, so invalid encodings can be sent as they are. */
    const hostile: Array<{ label: string; encoded: string; oversized?: boolean }> = [
      { label: 'quote OR 1=1', encoded: encodeURIComponent("' OR 1=1--") },
      { label: 'DROP TABLE', encoded: encodeURIComponent('"; DROP TABLE access.api_keys; --') },
      {
        label: 'UNION SELECT',
        encoded: encodeURIComponent('1) UNION SELECT key_hash FROM access.api_keys--'),
      },
      { label: 'NUL', encoded: '%00' },
      { label: 'text with NUL', encoded: `${marker}%00b` },
      { label: 'invalid UTF-8', encoded: '%FF%FE' },
      { label: 'encoded lone surrogate', encoded: '%ED%A0%80' },
      { label: 'unicode', encoded: encodeURIComponent('Ωμέγα 🚀 \u202Eevil') },
      { label: 'empty', encoded: '' },
      { label: 'negative', encoded: '-1' },
      { label: 'huge number', encoded: '9'.repeat(40) },
      { label: 'JSON', encoded: encodeURIComponent('{"$gt":""}') },
      { label: 'path traversal', encoded: encodeURIComponent('../../../etc/passwd') },
      { label: 'bad date', encoded: encodeURIComponent('2026-13-45T99:99:99Z') },
      { label: '10 KB', encoded: 'y'.repeat(10_000) },
      { label: '100 KB', encoded: 'x'.repeat(100_000), oversized: true },
    ];
    // Refusals before Touchline's code sees the value: 431 for a URL over Node's header limit,
    // 414 for a path parameter over Fastify's maxParamLength.
    const acceptable = (status: number, oversized: boolean): boolean =>
      [200, 400, 404].includes(status) || (oversized && [414, 431].includes(status));

    const problems: string[] = [];
    let requests = 0;
    const reads = operations.filter(
      (operation) => operation.method === 'GET' && !PUBLIC_OPERATIONS.has(operation.id),
    );
    for (const operation of reads) {
      const names = [
        ...operation.queryParameters,
        ...(UNDECLARED_QUERY_PARAMETERS[operation.id] ?? []),
      ];
      const route = routeOf(operation, pathValues(operation));
      for (const name of names) {
        const variants = hostile.flatMap(({ label, encoded, oversized }) => [
          { label, query: `${encodeURIComponent(name)}=${encoded}`, oversized: !!oversized },
        ]);
        // Arrays: the parameter repeated, with a sane and a hostile value.
        variants.push(
          { label: 'repeated', query: `${name}=1&${name}=2`, oversized: false },
          {
            label: 'repeated hostile',
            query: `${name}=1&${name}=%27%20OR%201%3D1--`,
            oversized: false,
          },
          { label: 'bracket array', query: `${name}[]=1&${name}[]=2`, oversized: false },
        );
        for (const variant of variants) {
          const answer = await admin('GET', `${route}?${variant.query}`);
          requests += 1;
          if (!acceptable(answer.status, variant.oversized))
            problems.push(`${operation.id} ?${name}= ${variant.label}: ${answer.status}`);
        }
      }
      // Path parameters get the same values (not 100 KB: the query case covers that limit).
      for (const name of operation.pathParameters) {
        for (const { label, encoded, oversized } of hostile) {
          if (oversized) continue;
          const long = encoded.length > 1_000;
          const values = pathValues(operation);
          const hostileRoute = operation.path.replace(/\{([^}]+)\}/g, (_m, param: string) =>
            param === name ? encoded : encodeURIComponent(values[param] ?? randomUUID()),
          );
          const answer = await admin('GET', hostileRoute);
          requests += 1;
          if (!acceptable(answer.status, long))
            problems.push(`${operation.id} {${name}} ${label}: ${answer.status}`);
        }
      }
    }
    expect(requests).toBeGreaterThan(300);
    expect((await request('GET', '/health/live')).status).toBe(200);
    expect(touchline.server.child.exitCode).toBeNull();
    const after = await snapshot();
    expect(after.tables).toEqual(before.tables);
    expect(after.keys).toBe(before.keys);
    expect(after.events).toBe(before.events);
    expect(after.keyRows).toEqual(before.keyRows);
    // Reads are not audited except the export, which is audited even when refused.
    expect(after.audit).toBeGreaterThanOrEqual(before.audit);
    if (touchline.server.output.some((line) => line.includes(marker)))
      problems.push('the server log repeats a value sent in a request');
    // Last, so that the checks above run even when some value caused a 5xx.
    expect(problems).toEqual([]);
  }, 600_000);

  it('audits every key and source this suite created or revoked, with the acting key', async () => {
    const answer = await admin('GET', '/v1/admin/audit?limit=1000');
    expect(answer.status).toBe(200);
    const items = (
      JSON.parse(answer.text) as {
        items: Array<{ action: string; target: string; outcome: string; actorKeyId: string }>;
      }
    ).items;
    const bootstrapAdmin = await touchline.sql.query<{ id: string }>(
      'SELECT id FROM access.api_keys WHERE key_hash = $1',
      [createHash('sha256').update(touchline.apiKey, 'utf8').digest('hex')],
    );
    const adminId = bootstrapAdmin.rows[0]?.id;
    expect(adminId).toEqual(expect.any(String));
    expect(created.length).toBeGreaterThanOrEqual(6);
    for (const { action, keyId } of created) {
      expect(items).toContainEqual(
        expect.objectContaining({ action, target: keyId, outcome: 'done', actorKeyId: adminId }),
      );
    }
    expect(revoked.length).toBe(2);
    for (const keyId of revoked) {
      expect(items).toContainEqual(
        expect.objectContaining({ action: 'key.revoke', target: keyId, outcome: 'done' }),
      );
    }
    // The audit log holds ids, never the secrets; nor does the server's log.
    const log = touchline.server.output.join('\n');
    for (const secret of [touchline.apiKey, touchline.writeKey, ...secrets]) {
      expect(answer.text).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });
});
