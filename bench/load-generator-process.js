'use strict';
// The load generator's own process: autocannon here, the apps in the parent.
// Plain JavaScript so it starts the same under ts-jest and from the compiled
// bench, with no TypeScript loader in the child.
const autocannon = require('autocannon');

let current;

process.on('message', (message) => {
  if (message.type === 'stop') return current?.stop();
  if (message.type !== 'run') return;
  const { id, url, connections, duration, header, values } = message;
  let next = 0;
  const latencies = [];
  let non2xx = 0;
  current = autocannon(
    {
      url,
      connections,
      duration,
      pipelining: 1,
      // Each request carries the next known token (or cookie), so lookups spread over many rows.
      requests: [
        {
          setupRequest(request) {
            request.headers = { ...request.headers, [header]: values[next++ % values.length] };
            return request;
          },
        },
      ],
    },
    (error, result) => {
      current = undefined;
      if (error) return process.send({ type: 'result', id, error: String(error) });
      latencies.sort((a, b) => a - b);
      const at = (q) =>
        latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] : NaN;
      process.send({
        type: 'result',
        id,
        result: {
          requests: latencies.length,
          seconds: result.duration,
          rps: latencies.length / result.duration,
          p50: at(0.5),
          p99: at(0.99),
          non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        },
      });
    },
  );
  // autocannon's own histogram keeps whole milliseconds; these are the exact times, for sub-millisecond medians.
  current.on('response', (client, statusCode, bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else non2xx++;
  });
});

process.send({ type: 'ready' });
