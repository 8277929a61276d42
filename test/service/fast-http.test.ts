/** The raw GET fast path in front of node:http: what it takes, what it hands off, and that a connection survives the hand-off. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { parseFastRequest } from '../../src/service/fast-http.js';
import { StartedServe, startServe } from '../../cli/commands/serve.js';
import { keyPair, pinsJson, PIN, tempDir, testIO } from './helpers.js';

describe('parseFastRequest', () => {
  const req = (lines: string[]) => parseFastRequest(lines.join('\r\n'));
  it('takes simple GET and HEAD requests', () => {
    expect(req(['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Accept: */*'])).toEqual({ method: 'GET', path: '/v1/bundles/pins', ifNoneMatch: undefined, close: false });
    expect(req(['HEAD /v1/keys?x=1 HTTP/1.1', 'host:a', 'Connection: keep-alive, Close', 'If-None-Match: "a"', 'if-none-match: "b"', 'Content-Length: 0'])).toEqual({
      method: 'HEAD',
      path: '/v1/keys',
      ifNoneMatch: '"a", "b"',
      close: true,
    });
  });
  it('leaves everything else to node:http', () => {
    const bad: string[][] = [
      ['POST /v1/bundles/pins HTTP/1.1', 'Host: a'],
      ['GET /v1/bundles/pins HTTP/1.0', 'Host: a'],
      ['GET http://a/v1/bundles/pins HTTP/1.1', 'Host: a'],
      ['GET /v1/bundles/pins HTTP/1.1'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Host: b'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Content-Length: 5'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Expect: 100-continue'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Connection: Upgrade', 'Upgrade: websocket'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', ' folded'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a\nX: y'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'Bad Name: x'],
      ['GET /v1/bundles/pins HTTP/1.1', 'Host: a', 'X: caf\u00e9'],
      ['GET  /v1/bundles/pins HTTP/1.1', 'Host: a'],
      ['get /v1/bundles/pins HTTP/1.1', 'Host: a'],
    ];
    for (const b of bad) expect(req(b), JSON.stringify(b)).toBeNull();
  });
});

const TOKEN = 'fast-path-token-0123456789abcdef';
let s: StartedServe;
beforeAll(async () => {
  const k = keyPair();
  s = await startServe({ listen: '127.0.0.1:0', key: [k.key], data: tempDir(), audience: 'app', expiresIn: '7d', reportsRate: '100/min' }, testIO({ env: { PINCTL_ADMIN_TOKEN: TOKEN } }));
  const r = await fetch(`${s.url}/v1/bundles/pins?force=1`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: pinsJson([{ domain: 'a.test', pins: [PIN.intermediate, PIN.backup] }]) });
  expect(r.status).toBe(200);
});
afterAll(async () => {
  await s.stop();
});

/** Write chunks (with pauses) on one connection; read until the server closes it. */
function exchange(chunks: string[], gapMs = 0): Promise<string> {
  return new Promise((done, fail) => {
    const c = net.connect(s.server.port, '127.0.0.1');
    let out = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (out += d));
    c.on('end', () => done(out));
    c.on('error', fail);
    c.setTimeout(5000, () => fail(new Error(`no close; got ${out.slice(0, 400)}`)));
    c.on('connect', async () => {
      for (const chunk of chunks) {
        c.write(chunk);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

const statuses = (raw: string) => [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

describe('fast path on a live server', () => {
  it('answers pipelined GETs, hands off at a POST, and node:http serves the rest of the connection', async () => {
    const report = '{"a":1}';
    const raw = await exchange([
      get('/v1/bundles/pins') +
        get('/v1/keys') +
        `POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: ${report.length}\r\n\r\n${report}` +
        get('/nope') +
        get('/v1/bundles/pins', 'Connection: close\r\n'),
    ]);
    expect(statuses(raw)).toEqual([200, 200, 202, 404, 200]);
    // Who answered: the fast path writes Date last, node:http first.
    const heads = raw.split(/(?=^HTTP\/1\.1 )/m).map((r) => r.slice(0, r.indexOf('\r\n\r\n')));
    expect(heads[0]).toMatch(/\r\nKeep-Alive: timeout=5\r\nDate: /);
    expect(heads[1]).toMatch(/\r\nKeep-Alive: timeout=5\r\nDate: /);
    expect(heads[4]).toMatch(/^HTTP\/1\.1 200 OK\r\n(?:.*\r\n)*Date: .*\r\nConnection: close$/);
  });

  it('assembles a request that arrives a few bytes at a time', async () => {
    const whole = get('/v1/bundles/pins', 'Connection: close\r\n');
    const chunks = whole.match(/[\s\S]{1,7}/g)!;
    const raw = await exchange(chunks, 2);
    expect(statuses(raw)).toEqual([200]);
    expect(raw).toMatch(/\r\nContent-Length: \d+\r\n/);
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body).payloadType).toBe('application/vnd.pinctl.pins.v1+json');
  });

  it('HEAD sends the headers only; If-None-Match gives 304 on the fast path', async () => {
    const etag = (await fetch(`${s.url}/v1/bundles/pins`)).headers.get('etag')!;
    const head = await exchange([`HEAD /v1/bundles/pins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    expect(statuses(head)).toEqual([200]);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    const cond = await exchange([get('/v1/bundles/pins', `If-None-Match: ${etag}\r\n`) + get('/v1/bundles/pins', 'If-None-Match: "old"\r\nConnection: close\r\n')]);
    expect(statuses(cond)).toEqual([304, 200]);
  });

  it('hands HTTP/1.0, bodies on GET, huge heads and garbage to node:http', async () => {
    expect(statuses((await exchange(['GET /v1/bundles/pins HTTP/1.0\r\n\r\n'])).replace(/^HTTP\/1\.0/gm, 'HTTP/1.1'))).toEqual([200]);
    expect(statuses(await exchange([`GET /v1/bundles/pins HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`]))).toEqual([200]);
    expect(statuses(await exchange([get('/v1/bundles/pins', `X-Pad: ${'p'.repeat(9000)}\r\nConnection: close\r\n`)]))).toEqual([200]);
    expect(statuses(await exchange(['this is not http\r\n\r\n']))).toEqual([400]);
  });
});
