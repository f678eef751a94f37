const { createHash } = require('node:crypto');
const { CONSUMER, client, startApp, startAppExpectingFailure } = require('./support/app');
const { query } = require('./support/db');
const stack = require('./support/stack');

const major = (version) => Number(String(version).split('.')[0]);

describe(`the ${CONSUMER} consumer on ${stack.title} boots`, () => {
  let app;
  let env;

  beforeAll(async () => {
    app = await startApp();
    env = (await client(app.url).get('/_probe/env')).body;
  });
  afterAll(() => app?.stop());

  it(`runs on ${stack.title}, with @mikro-orm/nestjs ${stack.majors['@mikro-orm/nestjs']}`, () => {
    const { node, ...packages } = stack.majors;
    expect(major(env.node)).toBe(node);
    for (const [name, expected] of Object.entries(packages))
      expect(`${name}@${major(env.versions[name])}`).toBe(`${name}@${expected}`);
  });

  const through = stack.esmOnlyPeers
    ? ', which reaches the ES-module-only NestJS and MikroORM through require(esm)'
    : '';
  it(`is ${CONSUMER === 'esm' ? 'an ES-module' : 'a CommonJS'} app using the CommonJS library${through}`, () => {
    expect(env.appModuleSystem).toBe(CONSUMER);
    expect(env.library.type).toBe('commonjs');
    if (stack.esmOnlyPeers) expect(env.requireModule).toBe(true);
  });

  it('uses the library installed from its tarball, not a link to the repository', () => {
    expect(env.library.inNodeModules).toBe(true);
    expect(env.library.entry).not.toMatch(/\/lib\//);
  });

  it('has one copy of the library, @nestjs/core, @nestjs/common, @mikro-orm/core and @mikro-orm/nestjs', () => {
    expect(env.library.oneCopy).toBe(true);
    expect(env.oneCopy).toEqual({
      '@nestjs/core': true,
      '@nestjs/common': true,
      '@mikro-orm/core': true,
      '@mikro-orm/nestjs': true,
    });
  });

  it('gets the MikroORM instance of @mikro-orm/nestjs injected', () => {
    expect(env.injectedOrmIsAppOrm).toBe(true);
  });

  it('registers both kinds for autoLoadEntities, with their tables and columns', async () => {
    const byClass = Object.fromEntries(env.entities.map((e) => [e.className, e]));
    expect(byClass.Session).toMatchObject({ tableName: 'sessions' });
    expect(byClass.ApiKeysSession).toMatchObject({ tableName: 'api_keys' });
    expect(byClass.ApiKeysSession.properties).toEqual(expect.arrayContaining(['userId', 'label']));
    const columns = await query(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_name IN ('sessions', 'api_keys') AND table_schema = current_schema()`,
    );
    const of = (table) =>
      Object.fromEntries(columns.filter((c) => c.table_name === table).map((c) => [c.column_name, c.data_type]));
    expect(of('sessions')).toEqual({
      id: 'uuid',
      auth_token_digest: 'character varying',
      data: 'jsonb',
      expires_at: 'timestamp with time zone',
      inserted_at: 'timestamp with time zone',
      updated_at: 'timestamp with time zone',
      user_id: 'character varying',
    });
    expect(of('api_keys')).toMatchObject({ label: 'character varying', user_id: 'character varying' });
  });

  it('creates the Ecto-named indexes, the digest one unique', async () => {
    const indexes = await query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sessions'`);
    const names = indexes.map((i) => i.indexname);
    expect(names).toEqual(
      expect.arrayContaining([
        'sessions_auth_token_digest_index',
        'sessions_expires_at_index',
        'sessions_user_id_index',
      ]),
    );
    expect(indexes.find((i) => i.indexname === 'sessions_auth_token_digest_index').indexdef).toMatch(/UNIQUE/);
  });

  it('stores only the digest of a token (sha256, lowercase hex)', async () => {
    const { token, session } = await client(app.url).probe('create', { attrs: { userId: 'boot' } });
    const [row] = await query('SELECT auth_token_digest FROM sessions WHERE id = $1', [session.id]);
    expect(row.auth_token_digest).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(session)).not.toContain(token);
  });
});

describe(`the ${CONSUMER} consumer fails at start-up with a clear message`, () => {
  it('when no MikroORM is there to inject', async () => {
    const { code, output } = await startAppExpectingFailure({ SCENARIO: 'no-orm', RESET_SCHEMA: '0' });
    expect(code).not.toBe(0);
    expect(output).toMatch(/option "orm" is missing: import MikroOrmModule\.forRoot/);
  });

  it('when an option is invalid, naming it', async () => {
    const { code, output } = await startAppExpectingFailure({ SCENARIO: 'bad-options', RESET_SCHEMA: '0' });
    expect(code).not.toBe(0);
    expect(output).toMatch(/tokenLength/);
  });
});

describe(`the ${CONSUMER} consumer rebuilds apps in one process`, () => {
  it('forgets the previous shape of a kind (the entity storage of @mikro-orm/nestjs 7 is reached)', async () => {
    const { execFile } = require('node:child_process');
    const { APP_DIR } = require('./support/app');
    const output = await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ['out/rebuild.js'],
        { cwd: APP_DIR, env: process.env, timeout: 30_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stdout}${stderr}`)) : resolve(stdout),
      ),
    );
    expect(output).toContain('FIRST 1:id,authTokenDigest,data,expiresAt,insertedAt,updatedAt,userId:ok');
    expect(output).toContain('SECOND 1:id,authTokenDigest,data,expiresAt,insertedAt,updatedAt,userId,tenant:ok');
  });
});
