// Shared Jest settings: SWC transpiles TypeScript (type checking is the typecheck target's job),
// and workspace imports resolve to library sources so tests never need a build first.
const path = require('node:path');

const libs = path.join(__dirname, 'libs');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  moduleNameMapper: {
    '^@touchline/([a-z0-9-]+)/testing$': `${libs}/$1/src/testing/index.ts`,
    '^@touchline/([a-z0-9-]+)$': `${libs}/$1/src/index.ts`,
  },
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
