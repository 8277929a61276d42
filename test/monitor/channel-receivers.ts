/**
 * Local receivers for the alert channels' tests (all real servers on 127.0.0.1): a Slack
 * incoming webhook that checks the Block Kit shape and Slack's limits, a PagerDuty Events API v2
 * endpoint that enforces the v2 schema, an SMTP server that can refuse, and tarpits (HTTP and SMTP)
 * that answer one line a second forever.
 */
import http from 'node:http';
import net from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

export interface HttpReceiver {
  url: string;
  requests: Received[];
  /** Shape problems of the last refused request. */
  violations: string[];
  /** Force this status on the next requests (null: answer by the schema). */
  force: number | null;
  close(): Promise<void>;
}

function serve(
  handle: (r: HttpReceiver, req: http.IncomingMessage, raw: string, res: http.ServerResponse) => void,
  path: string,
): Promise<HttpReceiver> {
  const r: HttpReceiver = { url: '', requests: [], violations: [], force: null, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(r, req, Buffer.concat(chunks).toString('utf8'), res));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      r.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}${path}`;
      r.close = () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve(r);
    }),
  );
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function textObject(v: unknown, at: string, max: number, types: string[], out: string[]): void {
  if (!isObj(v)) return void out.push(`${at}: not a text object`);
  if (!types.includes(String(v.type))) out.push(`${at}.type: ${String(v.type)} not in ${types.join('|')}`);
  if (typeof v.text !== 'string' || v.text.length === 0) out.push(`${at}.text: empty`);
  else if (v.text.length > max) out.push(`${at}.text: ${v.text.length} > ${max} characters`);
}

/** Slack's documented Block Kit limits for the blocks pinctl sends. */
export function slackViolations(body: unknown): string[] {
  const out: string[] = [];
  if (!isObj(body)) return ['body: not a JSON object'];
  if (typeof body.text !== 'string' || body.text.length === 0) out.push('text: the fallback text is missing');
  if (body.channel !== undefined && typeof body.channel !== 'string') out.push('channel: not a string');
  const blocks = body.blocks;
  if (!Array.isArray(blocks) || blocks.length === 0) return [...out, 'blocks: not a non-empty list'];
  if (blocks.length > 50) out.push(`blocks: ${blocks.length} > 50`);
  blocks.forEach((b: unknown, i) => {
    const at = `blocks[${i}]`;
    if (!isObj(b)) return void out.push(`${at}: not an object`);
    if (b.type === 'header') textObject(b.text, `${at}.text`, 150, ['plain_text'], out);
    else if (b.type === 'section') {
      if (b.text === undefined && b.fields === undefined) out.push(`${at}: neither text nor fields`);
      if (b.text !== undefined) textObject(b.text, `${at}.text`, 3000, ['plain_text', 'mrkdwn'], out);
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields) || b.fields.length > 10) out.push(`${at}.fields: not a list of at most 10`);
        else
          b.fields.forEach((f: unknown, j) => textObject(f, `${at}.fields[${j}]`, 2000, ['plain_text', 'mrkdwn'], out));
      }
    } else if (b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10)
        out.push(`${at}.elements: not a list of 1 to 10`);
      else
        b.elements.forEach((e: unknown, j) =>
          textObject(e, `${at}.elements[${j}]`, 2000, ['plain_text', 'mrkdwn'], out),
        );
    } else out.push(`${at}.type: ${String(b.type)} is not a block pinctl sends`);
  });
  return out;
}

/** A Slack incoming webhook: 200 "ok", or 400 "invalid_blocks" when the shape breaks a rule. */
export function slackReceiver(): Promise<HttpReceiver> {
  return serve((r, req, raw, res) => {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return void res.writeHead(400).end('invalid_payload');
    }
    if (r.force !== null)
      return void res
        .writeHead(r.force)
        .end(r.force === 400 ? 'invalid_blocks' : r.force === 404 ? 'channel_not_found' : 'rollup_error');
    const v = slackViolations(body);
    if (v.length) {
      r.violations = v;
      return void res.writeHead(400).end('invalid_blocks');
    }
    r.requests.push({ headers: req.headers, raw, body: body as Record<string, unknown> });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }, '/services/T000/B000/XXXX');
}

const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'];
const PD_TOP = ['routing_key', 'event_action', 'dedup_key', 'payload', 'client', 'client_url', 'images', 'links'];

/** The PagerDuty Events API v2 rules for an event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
export function pagerdutyViolations(body: unknown): string[] {
  const out: string[] = [];
  if (!isObj(body)) return ['body: not a JSON object'];
  for (const k of Object.keys(body)) if (!PD_TOP.includes(k)) out.push(`${k}: not an Events API v2 field`);
  if (typeof body.routing_key !== 'string' || body.routing_key.length !== 32)
    out.push('routing_key: not a 32-character integration key');
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(body.event_action)))
    out.push(`event_action: ${String(body.event_action)}`);
  if (
    body.dedup_key !== undefined &&
    (typeof body.dedup_key !== 'string' || body.dedup_key.length === 0 || body.dedup_key.length > 255)
  )
    out.push('dedup_key: not a string of 1 to 255 characters');
  if (body.event_action !== 'trigger' && typeof body.dedup_key !== 'string')
    out.push('dedup_key: required to acknowledge or resolve');
  if (body.event_action === 'trigger') {
    const p = body.payload;
    if (!isObj(p)) return [...out, 'payload: required to trigger'];
    if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024)
      out.push('payload.summary: not a string of 1 to 1024 characters');
    if (typeof p.source !== 'string' || p.source.length === 0) out.push('payload.source: required');
    if (!PD_SEVERITIES.includes(String(p.severity)))
      out.push(`payload.severity: ${String(p.severity)} not in ${PD_SEVERITIES.join('|')}`);
    if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp))))
      out.push('payload.timestamp: not ISO 8601');
    for (const k of ['component', 'group', 'class'])
      if (p[k] !== undefined && typeof p[k] !== 'string') out.push(`payload.${k}: not a string`);
    if (p.custom_details !== undefined && !isObj(p.custom_details)) out.push('payload.custom_details: not an object');
  }
  return out;
}

/** PagerDuty's enqueue endpoint: 202 and the dedup key, or 400 with its "invalid event" answer. */
export function pagerdutyReceiver(): Promise<HttpReceiver> {
  return serve((r, req, raw, res) => {
    const json = (status: number, b: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(b));
    if (r.force === 400)
      return void json(400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"],
      });
    if (r.force === 429) res.setHeader('retry-after', '120');
    if (r.force !== null)
      return void json(r.force, {
        status: 'throttled',
        message: r.force === 429 ? 'Requests for this service are arriving too quickly' : 'internal error',
      });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return void json(400, {
        status: 'invalid event',
        message: 'Event object is invalid',
        errors: ['Malformed JSON'],
      });
    }
    const v = pagerdutyViolations(body);
    if (v.length) {
      r.violations = v;
      return void json(400, { status: 'invalid event', message: 'Event object is invalid', errors: v });
    }
    r.requests.push({ headers: req.headers, raw, body: body as Record<string, unknown> });
    json(202, {
      status: 'success',
      message: 'Event processed',
      dedup_key: (body as Record<string, unknown>).dedup_key ?? 'generated',
    });
  }, '/v2/enqueue');
}

export interface Tarpit {
  port: number;
  url: string;
  /** Connections open now. */
  open(): number;
  close(): Promise<void>;
}

/** Greets (SMTP) or starts an answer (HTTP), then sends one more line a second, forever: no idle timeout fires. */
export function tarpit(kind: 'smtp' | 'http'): Promise<Tarpit> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    if (kind === 'smtp') s.write('220 tarpit.test ESMTP\r\n');
    let timer: NodeJS.Timeout | undefined;
    s.on('data', () => {
      if (kind === 'http' && !timer) s.write('HTTP/1.1 200 OK\r\n');
      timer ??= setInterval(
        () => s.write(kind === 'smtp' ? '250-still thinking\r\n' : 'x-still-thinking: 1\r\n'),
        1000,
      );
    });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}/hook`,
        open: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    }),
  );
}

export interface RefusingSmtp {
  port: number;
  mails: { messageId: string; subject: string }[];
  /** Answer `refuseAt` with this code (e.g. 451 temporary, 550 permanent), or accept (null). */
  refuse: number | null;
  /** The command refused (default RCPT TO); AUTH refuses every login with `refuse`. */
  refuseAt: 'MAIL FROM' | 'RCPT TO' | 'DATA' | 'AUTH';
  close(): Promise<void>;
}

/** An SMTP server (smtp-server) that accepts, or refuses one command with a chosen code. */
export function refusingSmtp(): Promise<RefusingSmtp> {
  const r: RefusingSmtp = { port: 0, mails: [], refuse: null, refuseAt: 'RCPT TO', close: async () => undefined };
  const refusal = (at: RefusingSmtp['refuseAt']) =>
    r.refuse === null || r.refuseAt !== at
      ? undefined
      : Object.assign(new Error(r.refuse >= 500 ? 'mailbox unavailable' : 'try again later'), {
          responseCode: r.refuse,
        });
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth: (_auth, _session, callback) => callback(refusal('AUTH') ?? null, { user: 'ops' }),
    onMailFrom: (_address, _session, callback) => callback(refusal('MAIL FROM')),
    onRcptTo: (_address, _session, callback) => callback(refusal('RCPT TO')),
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refused = refusal('DATA');
        if (refused) return callback(refused);
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => new RegExp(`^${name}: (.*)`, 'mi').exec(raw)?.[1]?.trim() ?? '';
        r.mails.push({ messageId: header('Message-ID'), subject: header('Subject') });
        callback();
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      r.port = (server.server.address() as net.AddressInfo).port;
      r.close = () => new Promise<void>((done) => server.close(() => done()));
      resolve(r);
    });
  });
}

/** A generic JSON receiver (the webhook channel): 200, or the forced status. */
export function jsonReceiver(): Promise<HttpReceiver> {
  return serve((r, req, raw, res) => {
    if (r.force !== null) return void res.writeHead(r.force).end();
    r.requests.push({ headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> });
    res.writeHead(200).end();
  }, '/hook');
}
