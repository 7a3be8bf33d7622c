// The site's password gate (the CloudFront Function in infra/template.yaml) under node, against
// CloudFront viewer-request events as CloudFront Functions' event structure documents them
// (version 1.0: context, viewer, request with lower-case header names and `value` objects).
//
// Usage: node gate_test.mjs FUNCTION_CODE_FILE
// tests/site_gate.rs extracts the code from the template and runs this. The `cloudfront` module
// is CloudFront's own; here a stand-in whose kvs().get() reads a Map (and throws for a missing
// key, as the real one does). `crypto` is node's, which has the createHash the runtime offers.

import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const code = readFileSync(process.argv[2], 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'seatwatch-gate-'));
mkdirSync(join(dir, 'node_modules', 'cloudfront'), { recursive: true });
writeFileSync(join(dir, 'node_modules', 'cloudfront', 'package.json'),
  JSON.stringify({ name: 'cloudfront', type: 'module', exports: './index.js' }));
writeFileSync(join(dir, 'node_modules', 'cloudfront', 'index.js'), `
export default {
  kvs() {
    return {
      async get(key) {
        const store = globalThis.__seatwatchKvs;
        if (!store.has(key)) { throw new Error('KeyNotFound: ' + key); }
        return store.get(key);
      },
    };
  },
};
`);
writeFileSync(join(dir, 'gate.mjs'), code + '\nexport { handler };\n');

const kvs = new Map();
globalThis.__seatwatchKvs = kvs;
const { handler } = await import(pathToFileURL(join(dir, 'gate.mjs')).href);

const basic = (user, password) => Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
const hashOf = (token) => createHash('sha256').update(token).digest('hex');

function event(headers) {
  return {
    version: '1.0',
    context: {
      distributionDomainName: 'd111111abcdef8.cloudfront.net',
      distributionId: 'EDFDVBD6EXAMPLE',
      eventType: 'viewer-request',
      requestId: 'EXAMPLEntjQpEXAMPLE_SG5Z-EXAMPLEPmPfEXAMPLEu3EqEXAMPLE==',
    },
    viewer: { ip: '198.51.100.11' },
    request: {
      method: 'GET',
      uri: '/unused.html',
      querystring: { sort: { value: 'days' } },
      headers: Object.assign({
        host: { value: 'd111111abcdef8.cloudfront.net' },
        accept: { value: 'text/html', multiValue: [{ value: 'text/html' }, { value: '*/*' }] },
      }, headers),
      cookies: { lang: { value: 'en' } },
    },
  };
}

let failed = 0;
async function check(name, headers, expectAllowed) {
  const out = await handler(event(headers));
  const allowed = out && out.uri === '/unused.html' && out.statusCode === undefined;
  let ok = allowed === expectAllowed;
  if (ok && allowed) {
    ok = out.headers.authorization === undefined && out.headers.host.value === 'd111111abcdef8.cloudfront.net';
  }
  if (ok && !allowed) {
    ok = out.statusCode === 401 && /^Basic realm=/.test(out.headers['www-authenticate'].value)
      && out.headers['cache-control'].value === 'no-store';
  }
  if (!ok) { failed++; }
  console.log(`gate: ${name}: ${ok ? 'ok' : 'FAILED ' + JSON.stringify(out)}`);
}

const good = basic('reader', 'correct horse battery staple');
kvs.set('credential-sha256', hashOf(good));

await check('allowed: the right user and password', { authorization: { value: `Basic ${good}` } }, true);
await check('allowed: scheme in any case, spaces around', { authorization: { value: `  basic ${good} ` } }, true);
await check('denied: wrong password', { authorization: { value: `Basic ${basic('reader', 'wrong')}` } }, false);
await check('denied: wrong user', { authorization: { value: `Basic ${basic('someone', 'correct horse battery staple')}` } }, false);
await check('denied: no Authorization header', {}, false);
await check('malformed: scheme only', { authorization: { value: 'Basic' } }, false);
await check('malformed: empty value', { authorization: { value: '' } }, false);
await check('malformed: another scheme', { authorization: { value: `Bearer ${good}` } }, false);
await check('malformed: not base64', { authorization: { value: 'Basic !!!not-base64!!!' } }, false);
await check('malformed: base64 of the wrong length', { authorization: { value: `Basic ${good.slice(0, -1)}` } }, false);
await check('malformed: trailing garbage', { authorization: { value: `Basic ${good} extra` } }, false);
await check('malformed: the stored hash itself as the credential', { authorization: { value: `Basic ${hashOf(good)}` } }, false);
await check('malformed: header without a value', { authorization: { multiValue: [{ value: `Basic ${good}` }] } }, false);

kvs.set('credential-sha256', hashOf(good).toUpperCase() + '\n');
await check('allowed: the stored hash in capitals with a newline', { authorization: { value: `Basic ${good}` } }, true);
kvs.set('credential-sha256', 'not-a-hash');
await check('denied: a stored value that is not a hash', { authorization: { value: `Basic ${good}` } }, false);
kvs.delete('credential-sha256');
await check('denied: no credential stored yet (closed by default)', { authorization: { value: `Basic ${good}` } }, false);

console.log(failed === 0 ? 'gate: all passed' : `gate: ${failed} FAILED`);
process.exit(failed === 0 ? 0 : 1);
