import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ConfigError } from './config';
import { resolveMasterKey } from './master-key-file';

describe('resolveMasterKey', () => {
  let dir: string;
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'touchline-master-key-'));
    lines.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a key into a file only the owner can read, says where, and never logs it', async () => {
    const file = path.join(dir, 'nested', 'master.key');
    const key = await resolveMasterKey({ kind: 'file', file }, logger);
    expect(key).toHaveLength(32);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toEqual(key);
    const log = lines.join('\n');
    expect(log).toContain(file);
    expect(log).toContain('generated a master key');
    expect(log).not.toContain(key.toString('base64'));
    // The next start reads the same key and generates nothing.
    lines.length = 0;
    expect(await resolveMasterKey({ kind: 'file', file }, logger)).toEqual(key);
    expect(lines).toHaveLength(0);
  });

  it('gives processes starting together one key', async () => {
    const file = path.join(dir, 'master.key');
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => resolveMasterKey({ kind: 'file', file }, logger)),
    );
    for (const key of keys) expect(key).toEqual(keys[0]);
  });

  it('refuses a file that does not hold a 32-byte key, naming the file', async () => {
    const file = path.join(dir, 'master.key');
    await writeFile(file, 'c2hvcnQ=\n');
    await expect(resolveMasterKey({ kind: 'file', file }, logger)).rejects.toThrow(ConfigError);
    await expect(resolveMasterKey({ kind: 'file', file }, logger)).rejects.toThrow(file);
  });

  it('uses a given key as it is', async () => {
    const key = Buffer.alloc(32, 7);
    expect(await resolveMasterKey({ kind: 'given', key }, logger)).toBe(key);
  });
});
