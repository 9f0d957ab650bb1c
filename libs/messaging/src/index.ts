export * from './topics';
export * from './transport.port';
