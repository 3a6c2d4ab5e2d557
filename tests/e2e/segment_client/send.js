// Send identify, group and track calls to wharfd with the official Segment
// Node.js library, then flush and report what the library saw.
//
// Usage: node send.js WHARFD_URL WRITE_KEY RUN_ID
//
// RUN_ID prefixes every id so that the caller can look the records up.
// Prints one JSON line on stdout: {"statuses": [...], "errors": [...],
// "calls": N}. Exits 0 only when every call was delivered and every HTTP
// response was 200.
'use strict';

const { Analytics } = require('@segment/analytics-node');

function main() {
  const [url, writeKey, runId] = process.argv.slice(2);
  if (!url || !writeKey || !runId) {
    console.error('usage: node send.js WHARFD_URL WRITE_KEY RUN_ID');
    process.exit(2);
  }

  const analytics = new Analytics({
    writeKey,
    host: url,
    path: '/v1/batch',
    // Two messages per request, so the calls below travel in several
    // batches; the interval flushes a last odd message quickly.
    flushAt: 2,
    flushInterval: 200,
    // A failure must show up in this run, not after library retries.
    maxRetries: 0,
    httpRequestTimeout: 5000,
  });

  const statuses = [];
  const errors = [];
  let calls = 0;

  analytics.on('http_response', (response) => {
    statuses.push(response.status);
  });
  analytics.on('error', (error) => {
    errors.push(String((error && error.reason) || error));
  });

  // Each call reports a failed delivery through its callback.
  const done = (name) => (error) => {
    if (error) errors.push(name + ': ' + String((error && error.reason) || error));
  };
  const send = (method, name, params) => {
    calls += 1;
    analytics[method](params, done(name));
  };

  const userId = runId + '-user-1';
  send('identify', 'identify user-1', {
    userId,
    traits: {
      email: 'Jose.Muller+' + runId + '@Example.com',
      name: 'Jos\u00e9 M\u00fcller',
      plan: 'pro',
      logins: 3,
      address: { city: 'Z\u00fcrich' },
    },
  });
  send('identify', 'identify anon-1', {
    anonymousId: runId + '-anon-1',
    traits: { name: '\u5c71\u7530\u592a\u90ce' },
  });
  send('group', 'group acme', {
    userId,
    groupId: runId + '-acme',
    traits: {
      name: 'Acme',
      website: 'https://www.' + runId + '-acme.example.com/about',
      employees: 120,
    },
  });
  send('track', 'track Order Completed', {
    userId,
    event: 'Order Completed',
    properties: { total: 99.5, currency: 'EUR' },
    timestamp: new Date('2024-03-05T14:30:00.250Z'),
    messageId: runId + '-order-1',
  });
  send('track', 'track Signed In', {
    userId,
    event: 'Signed In',
    properties: { method: 'password' },
  });

  analytics
    .closeAndFlush({ timeout: 10000 })
    .then(() => {
      const report = { statuses, errors, calls };
      console.log(JSON.stringify(report));
      const ok = errors.length === 0 && statuses.length > 0 && statuses.every((s) => s === 200);
      process.exit(ok ? 0 : 1);
    })
    .catch((error) => {
      console.log(JSON.stringify({ statuses, errors: errors.concat(String(error)), calls }));
      process.exit(1);
    });
}

main();
