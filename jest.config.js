// Root Jest config: every project's own config, run together by `npm test`.
module.exports = {
  projects: [
    '<rootDir>/libs/*/jest.config.js',
    '<rootDir>/apps/*/jest.config.js',
    '<rootDir>/tests/jest.config.js',
  ],
};
