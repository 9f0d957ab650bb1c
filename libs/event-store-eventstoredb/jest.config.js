module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'event-store-eventstoredb',
  rootDir: __dirname,
};
