module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'activity',
  rootDir: __dirname,
};
