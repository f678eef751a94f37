// An embedded PostgreSQL (PGlite behind pglite-socket) in a process of its own,
// so that a test can take the database away for real and bring it back on the
// same port and data. Plain JavaScript: PGlite loads parts of itself with
// dynamic import(), which Jest's module sandbox refuses.
//
// Usage: node embedded-postgres-process.js <dataDir> <port>
// Prints "ready <url>" once it accepts connections; SIGTERM stops it cleanly.
'use strict';

async function main() {
  const [dataDir, port] = process.argv.slice(2);
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: Number(port) || 0, maxConnections: 32 });
  await server.start();
  process.stdout.write(`ready postgresql://postgres@${server.getServerConn()}/postgres\n`);
  process.once('SIGTERM', async () => {
    await server.stop();
    await db.close();
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
