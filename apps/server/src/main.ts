import 'reflect-metadata';
import { bootstrapCredentials } from './auth/credentials-bootstrap';
import { ConfigError, loadConfigOrThrow } from './config/config';
import { createLogger } from './common/logger';
import { createApp } from './http';
import { Runtime } from './platform/runtime';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigOrThrow(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${error.message}\nFix the variables above and start again (see README.md, "Configuration").\n`,
      );
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const runtime = await Runtime.start(config, logger);
  await bootstrapCredentials(runtime.pool, config.dataDir, logger);
  const app = await createApp(runtime, logger);
  await app.listen(config.http.port, config.http.host);
  const mode = `${config.database.kind === 'embedded' ? 'embedded database' : 'PostgreSQL'} + ${config.transport.kind === 'kafka' ? 'Kafka' : 'in-process transport'}`;
  logger.info({ url: await app.getUrl(), roles: [...config.roles], mode }, 'Touchline is running');
  const shutdown = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'shutting down');
    await app.close();
    await runtime.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Touchline failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
