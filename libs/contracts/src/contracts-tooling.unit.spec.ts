import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { VALUE_RULES } from './value-rules';

// The checks behind tools/contracts/check.mjs, run against temporary copies of the workspace's
// schemas and generated files.

const WORKSPACE = path.resolve(__dirname, '../../..');
// The tools are not a project of the workspace: loaded by path, typed by their .d.cts.
type ContractsCore = typeof import('../../../tools/contracts/lib/contracts-core.cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const core = require(
  path.join(WORKSPACE, 'tools/contracts/lib/contracts-core.cjs'),
) as ContractsCore;
const FIXTURES = path.join(WORKSPACE, 'tools/contracts/fixtures');
const TRACKED_V1 = 'schemas/events/web/WebEventTracked.v1.avsc';

const fixture = (name: string): unknown =>
  JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));

const temporaryRoots: string[] = [];

function copyOfWorkspace(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'touchline-contracts-'));
  temporaryRoots.push(root);
  fs.cpSync(path.join(WORKSPACE, 'schemas'), path.join(root, 'schemas'), { recursive: true });
  fs.cpSync(path.join(WORKSPACE, core.GENERATED_DIR), path.join(root, core.GENERATED_DIR), {
    recursive: true,
  });
  fs.mkdirSync(path.join(root, 'docs'));
  fs.copyFileSync(path.join(WORKSPACE, core.GENERATED_DOCS), path.join(root, core.GENERATED_DOCS));
  fs.copyFileSync(path.join(WORKSPACE, '.prettierrc.json'), path.join(root, '.prettierrc.json'));
  return root;
}

function readJson(
  root: string,
  file: string,
): Record<string, unknown> & { fields: Record<string, unknown>[] } {
  return JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as Record<string, unknown> & {
    fields: Record<string, unknown>[];
  };
}

function writeJson(root: string, file: string, json: unknown): void {
  fs.writeFileSync(path.join(root, file), `${JSON.stringify(json, null, 2)}\n`);
}

/** WebEventTracked v1 with a new field added, as version 2. */
function trackedV2(root: string, field: Record<string, unknown>): Record<string, unknown> {
  const v1 = readJson(root, TRACKED_V1);
  return { ...v1, version: 2, fields: [...v1.fields, field] };
}

afterAll(() => {
  for (const root of temporaryRoots) fs.rmSync(root, { recursive: true, force: true });
});

describe('compatibility rule: version N reads what N-1 wrote', () => {
  it('accepts a new optional field with a default and a new enum symbol', () => {
    expect(
      core.incompatibility(fixture('Base.v2.compatible.avsc'), fixture('Base.v1.avsc')),
    ).toBeNull();
  });

  it('rejects a new required field without a default', () => {
    expect(
      core.incompatibility(fixture('Base.v2.incompatible.avsc'), fixture('Base.v1.avsc')),
    ).toMatch(/score/);
  });

  it('fails the check naming the new version file, and passes a compatible one', () => {
    const root = copyOfWorkspace();
    const v2 = 'schemas/events/web/WebEventTracked.v2.avsc';
    writeJson(
      root,
      v2,
      trackedV2(root, { name: 'score', type: 'int', doc: 'Required: breaks v1.' }),
    );
    const { problems } = core.loadContracts(root);
    expect(problems).toEqual([
      {
        file: v2,
        message: expect.stringContaining(
          'WebEventTracked v2 cannot read data written with v1',
        ) as string,
      },
    ]);

    writeJson(
      root,
      v2,
      trackedV2(root, { name: 'score', type: ['null', 'int'], default: null, doc: 'Optional.' }),
    );
    expect(core.loadContracts(root).problems).toEqual([]);
  });

  it('rejects a version identical on the wire to the previous one', () => {
    const root = copyOfWorkspace();
    writeJson(root, 'schemas/events/web/WebEventTracked.v2.avsc', {
      ...readJson(root, TRACKED_V1),
      version: 2,
      doc: 'New words.',
    });
    expect(core.loadContracts(root).problems).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('same canonical form') as string,
      }),
    ]);
  });
});

describe('schema files say what their names say', () => {
  it.each([
    [
      'a version attribute that differs from the file name',
      { version: 2 },
      /does not match the file name \(v1\)/,
    ],
    [
      'a record name that differs from the file name',
      { name: 'WebEventSeen' },
      /record name "WebEventSeen"/,
    ],
    ['a missing doc', { doc: undefined }, /needs a "doc"/],
  ])('reports %s', (_what, change, message) => {
    const root = copyOfWorkspace();
    writeJson(root, TRACKED_V1, { ...readJson(root, TRACKED_V1), ...change });
    expect(core.loadContracts(root).problems).toEqual([
      { file: TRACKED_V1, message: expect.stringMatching(message) as string },
    ]);
  });

  it('reports a schema avsc cannot parse, an undocumented field and a wrong pii marking', () => {
    const root = copyOfWorkspace();
    const v1 = readJson(root, TRACKED_V1);
    writeJson(root, TRACKED_V1, {
      ...v1,
      fields: [...v1.fields, { name: 'x', type: 'string', pii: ['ip'] }],
    });
    const bad = 'schemas/events/web/Broken.v1.avsc';
    writeJson(root, bad, {
      type: 'record',
      name: 'Broken',
      version: 1,
      doc: 'd',
      fields: [{ name: 'a', type: 'nope' }],
    });
    const problems = core.loadContracts(root).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        { file: bad, message: expect.stringContaining('avsc cannot parse') as string },
        { file: TRACKED_V1, message: 'field "x" needs a "doc"' },
        {
          file: TRACKED_V1,
          message: expect.stringContaining(
            '"pii" as a list of keys is only for json fields',
          ) as string,
        },
      ]),
    );
  });

  it('reports an event folder that is not a channel', () => {
    const root = copyOfWorkspace();
    fs.mkdirSync(path.join(root, 'schemas/events/fax'));
    fs.renameSync(
      path.join(root, TRACKED_V1),
      path.join(root, 'schemas/events/fax/WebEventTracked.v1.avsc'),
    );
    expect(core.loadContracts(root).problems).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('"fax" is not a channel') as string,
      }),
    ]);
  });
});

describe('drift between schemas and generated code', () => {
  it('passes on an unchanged copy of the workspace', () => {
    expect(core.checkContracts(copyOfWorkspace(), { history: false })).toEqual([]);
  });

  it('detects a hand-edited generated file and a schema changed without generating', () => {
    const root = copyOfWorkspace();
    fs.appendFileSync(path.join(root, core.GENERATED_TYPES), 'export type Extra = string;\n');
    expect(core.checkContracts(root, { history: false })).toEqual([
      { file: core.GENERATED_TYPES, message: expect.stringContaining('drift') as string },
    ]);

    const fresh = copyOfWorkspace();
    writeJson(fresh, TRACKED_V1, { ...readJson(fresh, TRACKED_V1), doc: 'Reworded.' });
    const files = core.checkContracts(fresh, { history: false }).map((p) => p.file);
    expect(files).toEqual([core.GENERATED_SCHEMAS, core.GENERATED_TYPES, core.GENERATED_DOCS]);

    expect(core.generate(fresh).written).toEqual([
      core.GENERATED_SCHEMAS,
      core.GENERATED_TYPES,
      core.GENERATED_DOCS,
    ]);
    expect(core.checkContracts(fresh, { history: false })).toEqual([]);
  });

  it('detects a stale or missing docs/events.md', () => {
    const root = copyOfWorkspace();
    const docs = path.join(root, core.GENERATED_DOCS);
    fs.writeFileSync(docs, fs.readFileSync(docs, 'utf8').replace('| `orderId` |', '| `order` |'));
    expect(core.checkContracts(root, { history: false })).toEqual([
      { file: core.GENERATED_DOCS, message: expect.stringContaining('drift') as string },
    ]);
    fs.rmSync(docs);
    expect(core.checkContracts(root, { history: false })).toEqual([
      { file: core.GENERATED_DOCS, message: expect.stringContaining('missing') as string },
    ]);
    expect(core.generate(root).written).toEqual([core.GENERATED_DOCS]);
    expect(core.checkContracts(root, { history: false })).toEqual([]);
  });
});

describe('docs/events.md', () => {
  const { entries } = core.loadContracts(WORKSPACE);
  const reference = core.renderEventsReference(entries);

  it('has a section per event type and version, with channel, doc and one row per field', () => {
    for (const entry of entries.filter((e) => e.kind === 'event')) {
      const heading = `### ${entry.type} v${entry.version}\n`;
      expect(reference).toContain(heading);
      const section = reference.slice(reference.indexOf(heading)).split('\n### ')[0]!;
      expect(section).toContain(`Channel: \`${entry.channel}\``);
      expect(section).toContain(entry.doc);
      for (const field of entry.schema['fields'] as { name: string }[]) {
        expect(section).toMatch(new RegExp(`^\\| \`${field.name}\` \\|`, 'm'));
      }
    }
  });

  it('marks personal data, nullability, defaults, nested fields and value rules', () => {
    expect(reference).toContain(
      '| `recipient` | string |  |  | yes | Recipient address, trimmed and lowercased. |',
    );
    expect(reference).toContain('| `userId` | string | yes | `null` |  |');
    expect(reference).toContain('| `context` | json object |  |  | keys: ip, userAgent, traits |');
    expect(reference).toContain('| `products[].price` | decimal (string, non-negative) |');
    expect(reference).toContain('| `currency` | string (currency) |');
    expect(reference).toContain(
      '| `medium` | string, one of `in-person`, `video`, `phone`, `other` |',
    );
  });

  it('is deterministic', () => {
    expect(core.renderEventsReference(core.loadContracts(WORKSPACE).entries)).toBe(reference);
  });
});

describe('value rules and allowed values in schemas', () => {
  function withField(root: string, field: Record<string, unknown>): string[] {
    const v1 = readJson(root, TRACKED_V1);
    writeJson(root, TRACKED_V1, { ...v1, fields: [...v1.fields, { doc: 'd', ...field }] });
    return core.loadContracts(root).problems.map((p) => p.message);
  }

  it('knows the same rules as the runtime', () => {
    expect(Object.keys(core.VALUE_RULES).sort()).toEqual(Object.keys(VALUE_RULES).sort());
  });

  it.each([
    [{ name: 'x', type: { type: 'string', rules: ['money'] } }, /unknown rule "money"/],
    [
      { name: 'x', type: { type: 'int', rules: ['decimal'] } },
      /rule "decimal" applies to string, not int/,
    ],
    [
      { name: 'x', type: { type: 'string', rules: ['non-negative'] } },
      /needs the "decimal" rule too/,
    ],
    [{ name: 'x', type: { type: 'int', allowed: ['a'] } }, /"allowed" is a non-empty list/],
    [{ name: 'x', type: { type: 'string', allowed: ['a', 'a'] } }, /"allowed" is a non-empty list/],
    [{ name: 'x', type: 'string', rules: ['decimal'] }, /"rules" belongs on the type/],
    [
      {
        name: 'x',
        type: {
          type: 'array',
          items: { type: 'record', name: 'I', fields: [{ name: 'y', type: 'string' }] },
        },
      },
      /field "x\[\]\.y" needs a "doc"/,
    ],
  ])('reports %j', (field, message) => {
    expect(withField(copyOfWorkspace(), field)).toEqual([expect.stringMatching(message)]);
  });

  it('accepts rules and allowed values that fit their types', () => {
    expect(
      withField(copyOfWorkspace(), {
        name: 'x',
        type: ['null', { type: 'string', rules: ['decimal', 'non-negative'] }],
        default: null,
      }),
    ).toEqual([]);
  });
});

describe('committed history of a schema file', () => {
  function git(root: string, ...args: string[]): void {
    execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
      cwd: root,
      stdio: 'ignore',
    });
  }

  it('rejects an edit that cannot read what the committed version wrote, accepts a compatible one', () => {
    const root = copyOfWorkspace();
    git(root, 'init', '-q');
    git(root, 'add', 'schemas');
    git(root, 'commit', '-q', '-m', 'schemas');

    const v1 = readJson(root, TRACKED_V1);
    writeJson(root, TRACKED_V1, {
      ...v1,
      fields: [...v1.fields, { name: 'score', type: 'int', doc: 'Required.' }],
    });
    expect(core.checkHistory(root, core.loadContracts(root).entries)).toEqual([
      {
        file: TRACKED_V1,
        message: expect.stringMatching(
          /cannot read data written with the version committed in [0-9a-f]{10}/,
        ) as string,
      },
    ]);

    writeJson(root, TRACKED_V1, { ...v1, doc: 'Only the words changed.' });
    expect(core.checkHistory(root, core.loadContracts(root).entries)).toEqual([]);
  });
});
