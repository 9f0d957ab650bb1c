module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'event-store-postgres',
  rootDir: __dirname,
};
