module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'touchpoints',
  rootDir: __dirname,
};
