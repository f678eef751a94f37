// Every run is in a zone far from UTC (UTC+13:45, with a 45-minute offset), so any
// code that leans on the process time zone fails here first. Node honours a TZ set at run time.
process.env.TZ = process.env.TZ || 'Pacific/Chatham';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The sample imports the library by its package name, as a user would; tests run it from source.
  moduleNameMapper: { '^nestjs-ecto-sessions$': '<rootDir>/lib' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // After Jest's counts: which tests were skipped, by file, and why.
  reporters: ['default', '<rootDir>/test/support/skipped-reporter.js'],
  testTimeout: 60_000,
};
