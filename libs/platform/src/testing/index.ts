export { testDatabaseTargets } from './test-database-targets';
export type { TestDatabase, TestDatabaseTarget } from './test-database-targets';
