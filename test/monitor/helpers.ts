/** Test rig for the monitor: the CLI in-process, configs in temp dirs, SMTP and webhook receivers on 127.0.0.1. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { Command, CommanderError } from 'commander';
import { SMTPServer } from 'smtp-server';
import { registerMonitor } from '../../cli/commands/monitor.js';
import { printError } from '../../cli/style.js';
import { testIO } from '../helpers/cli.js';
import type { MonitorState, SweepWrite } from '../../monitor/state.js';
import { NOW, pkiFile } from '../helpers/fixtures.js';
import { Prober } from '../../src/net/probe.js';

export { NOW, pkiFile };

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  now?: Date;
  env?: Record<string, string>;
  cwd?: string;
  probe?: Prober;
}

/** `pinctl monitor …` in-process, the way cli/run.ts wires registerMonitor. */
export async function monitorCli(argv: string[], opts: CliOptions = {}): Promise<Result> {
  let code = 0;
  const io = testIO(opts);
  const program = new Command('pinctl')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerMonitor(program, io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) code = e.code === 'commander.helpDisplayed' ? 0 : 2;
    else {
      printError(io, e);
      code = 2;
    }
  }
  return { code, stdout: io.out(), stderr: io.err() };
}

export function tempDir(prefix = 'pinctl-monitor-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeConfig(dir: string, text: string, name = 'monitor.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export interface Mail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  messageId: string;
}

export interface SmtpReceiver {
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on 127.0.0.1: no TLS, no auth, collects every message. */
export function smtpReceiver(port = 0): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => new RegExp(`^${name}: (.*(?:\\r?\\n[ \\t].*)*)`, 'mi').exec(raw)?.[1]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
        mails.push({
          from: String(session.envelope.mailFrom && session.envelope.mailFrom.address),
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: decodeQuotedPrintable(raw),
          subject: decodeWords(header('Subject')),
          messageId: header('Message-ID'),
        });
        callback();
      });
    },
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = (server.server.address() as net.AddressInfo).port;
      resolve({ port: address, mails, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

/** RFC 2047 encoded words (=?UTF-8?Q?…?= / ?B?), as nodemailer writes long subjects. */
function decodeWords(v: string): string {
  return v
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

/** nodemailer sends long lines quoted-printable: undo soft breaks and =XX escapes for assertions. */
function decodeQuotedPrintable(raw: string): string {
  const soft = raw.replace(/\r\n/g, '\n').replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const m = /^=([0-9A-F]{2})/.exec(soft.slice(i, i + 3));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 2;
    } else bytes.push(...Buffer.from(soft[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

export interface WebhookReceiver {
  port: number;
  url: string;
  requests: { headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[];
  /** HTTP status to answer (default 200). */
  status: number;
  close(): Promise<void>;
}

export function webhookReceiver(): Promise<WebhookReceiver> {
  const r: WebhookReceiver = { port: 0, url: '', requests: [], status: 200, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.status >= 200 && r.status < 300) r.requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.writeHead(r.status).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      r.port = (server.address() as net.AddressInfo).port;
      r.url = `http://127.0.0.1:${r.port}/hook`;
      r.close = () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve(r);
    });
  });
}

/** A port with nothing listening (bound, then closed). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const days = (n: number) => n * 86_400_000;
export const at = (iso: string) => new Date(iso);

/** Commits outbox rows as a sweep's commit would (one sweep, no observations, no findings). */
export async function commitOutbox(store: MonitorState, outbox: SweepWrite['outbox'], sweepId = 's', at = NOW.toISOString()): Promise<void> {
  await store.commitSweep({
    sweep: { id: sweepId, startedAt: at, finishedAt: at, durationMs: 1, configHash: 'x' },
    observations: [],
    previous: new Map(),
    opened: [],
    updated: [],
    resolved: [],
    events: [],
    outbox,
  });
}

/** Queues outbox rows as a sweep's commit would (one sweep, no observations), created 1 ms apart. */
export async function queueAlerts(store: MonitorState, rows: { id: string; channel: 'email' | 'webhook' }[]): Promise<void> {
  const at = NOW.toISOString();
  const outbox = rows.map((r, i) => ({ id: r.id, channel: r.channel, findingId: 'f', type: 'new' as const, createdAt: new Date(NOW.getTime() + i).toISOString(), message: { subject: r.id, text: r.id, webhook: { id: r.id } }, nextAttemptAt: at }));
  await commitOutbox(store, outbox, `s-${rows[0]!.id}`);
}
