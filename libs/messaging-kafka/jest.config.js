module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'messaging-kafka',
  rootDir: __dirname,
};
