const { Client } = require('pg');

/** A direct connection to the suite's database, to check what the library wrote. */
async function withDb(callback) {
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  try {
    return await callback(db);
  } finally {
    await db.end();
  }
}

async function query(sql, params = []) {
  return withDb(async (db) => (await db.query(sql, params)).rows);
}

module.exports = { query, withDb };
