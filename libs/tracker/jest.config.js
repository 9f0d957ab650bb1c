module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'tracker',
  rootDir: __dirname,
};
