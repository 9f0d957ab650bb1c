export * from './topics';
export * from './transport.port';
export { partitionForKey } from './partition';
export { InProcessTransport, type InProcessTransportOptions } from './in-process-transport';
