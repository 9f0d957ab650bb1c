export * from './checkpoint';
export * from './errors';
export * from './event-store.port';
export * from './polling-subscription';
