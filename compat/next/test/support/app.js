const { spawn } = require('node:child_process');
const path = require('node:path');

/** Which consumer build the suite drives: `esm` (type: module) or `cjs` (CommonJS). */
const CONSUMER = process.env.CONSUMER === 'cjs' ? 'cjs' : 'esm';
const APP_DIR = path.join(__dirname, '..', '..', 'app', CONSUMER);
const STARTUP_MS = 30_000;

/**
 * Starts the consumer app in its own Node process (the Node that runs Jest, i.e.
 * Node 22) and resolves once it listens. `env`: ADAPTER, MODE, SCENARIO, RESET_SCHEMA.
 */
function startApp(env = {}) {
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const child = spawn(process.execPath, ['out/main.js'], {
    cwd: APP_DIR,
    env: { ...process.env, PORT: '0', RESET_SCHEMA: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the app did not start within ${STARTUP_MS} ms:\n${output}`));
    }, STARTUP_MS);
    const onData = (chunk) => {
      output += chunk;
      const match = /LISTENING (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          output: () => output,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            const result = await exited;
            clearTimeout(kill);
            return result;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error(`the app exited (${code ?? signal}) before listening:\n${output}`), { code, output }),
      );
    });
  });
}

/** Runs an app that must fail to start; resolves with its exit code and output. */
async function startAppExpectingFailure(env) {
  try {
    const app = await startApp(env);
    await app.stop();
    throw new Error('the app started, but was expected to fail');
  } catch (error) {
    if (error.code === undefined) throw error;
    return { code: error.code, output: error.output };
  }
}

/** A small HTTP client on the app: JSON in, `{ status, body, headers }` out. */
function client(baseUrl) {
  async function request(method, url, { body, headers = {} } = {}) {
    const response = await fetch(baseUrl + url, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }
  return {
    get: (url, options) => request('GET', url, options),
    post: (url, body, options) => request('POST', url, { ...options, body: body ?? {} }),
    /** One of the library's service methods, through the app's probe controller. */
    async probe(operation, body = {}) {
      const response = await request('POST', `/_probe/${operation}`, { body });
      if (response.status !== 200) throw new Error(`${operation}: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
  };
}

/** The `Set-Cookie` line a response sends for the cookie `name`, whole (attributes too), if any. */
function setCookieOf(headers, name) {
  return headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
}

module.exports = { CONSUMER, APP_DIR, startApp, startAppExpectingFailure, client, setCookieOf };
