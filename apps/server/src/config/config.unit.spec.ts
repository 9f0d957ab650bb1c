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
