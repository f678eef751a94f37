// The suite drives the consumer app (app/esm or app/cjs, per CONSUMER) as a real
// Node 22 process: Jest's own module loader cannot load the ES-module-only
// NestJS 12 and MikroORM 7 on Node 22 (it supports require(esm) from Node 24.9).
process.env.TZ = process.env.TZ || 'Pacific/Chatham';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/test'],
  testRegex: '\\.e2e-spec\\.js$',
  testTimeout: 60_000,
  maxWorkers: 1,
};
