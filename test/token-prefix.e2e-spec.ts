import { createTestApp, type TestApp } from './support/app';

describe('tokenPrefix', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ kinds: [{}, { name: 'apiKeys', tokenPrefix: 'sk_live_', ttl: null }] });
  });
  afterAll(() => t.close());

  it('prefixes new tokens so scanners can spot them', async () => {
    const { token } = await t.sessions('apiKeys').create({ userId: 'u' });
    expect(token).toMatch(/^sk_live_[A-Za-z0-9_-]{64}$/);
    expect(await t.sessions('apiKeys').authenticate(token)).not.toBeNull();
  });

  it('refuses a token without the prefix (or with another) before any hashing or query', async () => {
    const keys = t.sessions('apiKeys');
    const { token } = await keys.create({ userId: 'u' });
    const bare = token.slice('sk_live_'.length);
    t.log.clear();
    expect(await keys.authenticate(bare)).toBeNull();
    expect(await keys.authenticate(`sk_test_${bare}`)).toBeNull();
    expect(await keys.authenticate(`sk_live_${bare}x`)).toBeNull();
    expect(t.log.statements).toHaveLength(0);
  });

  it('leaves the default kind without a prefix, compatible with the Elixir library', async () => {
    const { token } = await t.sessions().create({ userId: 'u' });
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });
});
