module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'e2e',
  rootDir: __dirname,
  globalSetup: '<rootDir>/e2e/support/global-setup.js',
  setupFilesAfterEnv: ['<rootDir>/e2e/support/timeout.js'],
};
