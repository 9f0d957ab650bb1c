import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError, loadConfigOrThrow } from './config';

describe('configuration', () => {
  it('defaults to the embedded mode with every role in one process', () => {
    const config = loadConfigOrThrow({});
    expect(config.database.kind).toBe('embedded');
    expect(config.transport.kind).toBe('in-process');
    expect([...config.roles]).toEqual(['collector', 'recorder', 'projector', 'query']);
    expect(config.http.port).toBe(8080);
  });

  it('selects the full mode from DATABASE_URL and KAFKA_BROKERS', () => {
    const config = loadConfigOrThrow({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/touchline',
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
      TOUCHLINE_ROLES: 'recorder',
    });
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgres://postgres@127.0.0.1:5432/touchline',
    });
    expect(config.transport).toMatchObject({
      kind: 'kafka',
      brokers: ['127.0.0.1:9092', '127.0.0.1:9093'],
    });
    expect([...config.roles]).toEqual(['recorder']);
  });

  it('bounds how long raw ingest topics keep personal data in the clear', () => {
    const kafka = { KAFKA_BROKERS: '127.0.0.1:9092' };
    expect(loadConfigOrThrow(kafka).transport).toMatchObject({
      ingestRetentionMs: 7 * 24 * 3600 * 1000,
    });
    expect(
      loadConfigOrThrow({ ...kafka, TOUCHLINE_INGEST_RETENTION_DAYS: '2' }).transport,
    ).toMatchObject({ ingestRetentionMs: 2 * 24 * 3600 * 1000 });
    expect(() => loadConfigOrThrow({ ...kafka, TOUCHLINE_INGEST_RETENTION_DAYS: '0' })).toThrow(
      /TOUCHLINE_INGEST_RETENTION_DAYS/,
    );
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT: .*number/],
    [{ TOUCHLINE_ROLES: 'collector,cook' }, /TOUCHLINE_ROLES/],
    [{ KAFKA_BROKERS: 'localhost' }, /KAFKA_BROKERS: each broker must be host:port/],
    [{ DATABASE_URL: 'mysql://x@y/z' }, /DATABASE_URL: must start with postgres:\/\//],
    [{ TOUCHLINE_ROLES: 'collector', DATABASE_URL: 'postgres://a@b/c' }, /KAFKA_BROKERS: required/],
    [{ TOUCHLINE_ROLES: 'query', KAFKA_BROKERS: '127.0.0.1:9092' }, /DATABASE_URL: required/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfigOrThrow(env)).toThrow(ConfigError);
    expect(() => loadConfigOrThrow(env)).toThrow(message);
  });

  describe('master key (TOUCHLINE_MASTER_KEY)', () => {
    const key = randomBytes(32);

    it('takes base64 of 32 bytes, standard or URL-safe', () => {
      expect(loadConfigOrThrow({ TOUCHLINE_MASTER_KEY: key.toString('base64') }).masterKey).toEqual(
        { kind: 'given', key },
      );
      expect(
        loadConfigOrThrow({ TOUCHLINE_MASTER_KEY: key.toString('base64url') }).masterKey,
      ).toEqual({ kind: 'given', key });
    });

    it('outside production, without one, uses a file in the data directory', () => {
      expect(loadConfigOrThrow({ TOUCHLINE_DATA_DIR: '/srv/tl' }).masterKey).toEqual({
        kind: 'file',
        file: path.resolve('/srv/tl', 'master.key'),
      });
      expect(
        loadConfigOrThrow({
          TOUCHLINE_DATA_DIR: '/srv/tl',
          DATABASE_URL: 'postgres://a@b/c',
          NODE_ENV: 'development',
        }).masterKey,
      ).toEqual({ kind: 'file', file: path.resolve('/srv/tl', 'master.key') });
    });

    it('in production, refuses to start without one and says how to make one', () => {
      expect(() => loadConfigOrThrow({ NODE_ENV: 'production' })).toThrow(ConfigError);
      expect(() => loadConfigOrThrow({ NODE_ENV: 'production' })).toThrow(
        /TOUCHLINE_MASTER_KEY: required .*openssl rand -base64 32/s,
      );
      expect(
        loadConfigOrThrow({ NODE_ENV: 'production', TOUCHLINE_MASTER_KEY: key.toString('base64') })
          .masterKey.kind,
      ).toBe('given');
    });

    it.each([
      ['too short', randomBytes(16).toString('base64')],
      ['too long', randomBytes(48).toString('base64')],
      ['not base64', 'this is not a key at all, it is a sentence!!'],
    ])('refuses a key that is %s, without echoing it', (_what, value) => {
      let message = '';
      try {
        loadConfigOrThrow({ TOUCHLINE_MASTER_KEY: value });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/TOUCHLINE_MASTER_KEY: must be base64 of 32 bytes/);
      expect(message).not.toContain(value);
    });
  });

  it('never echoes the database URL, which may carry a password', () => {
    let message = '';
    try {
      loadConfigOrThrow({ DATABASE_URL: 'postgres:secret' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('secret');
  });
});
