export * from './activity-summary';
