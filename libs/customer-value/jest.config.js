module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'customer-value',
  rootDir: __dirname,
};
