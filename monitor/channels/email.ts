/**
 * Email through nodemailer: `alerts.email: { smtp, from, to, passwordEnv | passwordFile, requireTLS, timeout }`.
 * The Message-ID is the alert id, so a copy sent twice (a crash between send and markSent) is one
 * message to the mail client.
 */
import net from 'node:net';
import type { AlertChannel, ChannelConfigKit } from './types.js';
import { DeliveryError } from './types.js';
import { alertText, testText } from './view.js';

export interface EmailChannel {
  smtp: string;
  from: string;
  to: string[];
  /** Resolved from passwordEnv or passwordFile; never printed. */
  password: string | null;
  /**
   * smtp:// only: refuse to send (and so to authenticate) unless the server upgrades with STARTTLS.
   * Default true, except for a loopback host (a local relay).
   */
  requireTLS: boolean;
  timeoutMs: number;
}

export interface EmailPayload {
  subject: string;
  text: string;
}

function address(kit: ChannelConfigKit, v: unknown, key: string): string | undefined {
  const s = kit.str(v, key, 'an email address');
  if (s !== undefined && !/^[^\s@<>]+@[^\s@<>]+$/.test(s) && !/<[^\s@<>]+@[^\s@<>]+>\s*$/.test(s))
    return kit.add(key, 'an email address', s);
  return s;
}

function requireTlsOf(kit: ChannelConfigKit, v: unknown, smtp: string): boolean {
  const given = v === undefined ? undefined : kit.bool(v, 'requireTLS');
  if (given !== undefined) return given;
  const host = new URL(smtp).hostname.replace(/^\[(.*)\]$/, '$1');
  return !(host === 'localhost' || /^127\./.test(host) || host === '::1');
}

function parse(raw: unknown, kit: ChannelConfigKit): EmailChannel | undefined {
  const e = kit.section(
    raw,
    ['smtp', 'from', 'to', 'passwordEnv', 'passwordFile', 'requireTLS', 'timeout'],
    ['smtp', 'from', 'to'],
  );
  if (!e) return undefined;
  const smtp = e.smtp === undefined ? undefined : kit.url(e.smtp, 'smtp', ['smtp:', 'smtps:']);
  const from = e.from === undefined ? undefined : address(kit, e.from, 'from');
  const toList = typeof e.to === 'string' ? [e.to] : e.to;
  const to: string[] = [];
  if (e.to !== undefined) {
    if (!Array.isArray(toList) || toList.length === 0) kit.add('to', 'an email address or a list of them', e.to);
    else
      toList.forEach((t, i) => {
        const r = address(kit, t, typeof e.to === 'string' ? 'to' : `to[${i}]`);
        if (r) to.push(r);
      });
  }
  const password = kit.secret(e, 'password');
  const timeoutMs = kit.timeoutMs(e);
  const requireTLS = smtp ? requireTlsOf(kit, e.requireTLS, smtp) : true;
  return smtp && from && to.length ? { smtp, from, to, password, requireTLS, timeoutMs } : undefined;
}

async function send(
  ch: EmailChannel,
  payload: EmailPayload,
  attempt: { alertId: string; type: string; signal: AbortSignal },
): Promise<void> {
  const u = new URL(ch.smtp);
  const user = decodeURIComponent(u.username);
  const pass = ch.password ?? (u.password ? decodeURIComponent(u.password) : '');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 25;
  const { signal } = attempt;
  // Our own socket (nodemailer's getSocket hook), so an aborted attempt can destroy it.
  const getSocket = (_o: unknown, done: (err: Error | null, s?: { connection: net.Socket }) => void) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => done(null, { connection: socket }));
    socket.once('error', (e) => done(e));
    const abort = () => socket.destroy(new Error('delivery attempt aborted'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', abort));
  };
  // Loaded when first sending: the registry is read by status and metrics too, which send nothing.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host,
    port,
    secure: u.protocol === 'smtps:',
    // smtp:// with requireTLS: no STARTTLS, no mail (and no credentials sent in clear).
    requireTLS: u.protocol === 'smtp:' && ch.requireTLS,
    auth: user ? { user, pass } : undefined,
    connectionTimeout: ch.timeoutMs,
    greetingTimeout: ch.timeoutMs,
    socketTimeout: ch.timeoutMs,
    getSocket,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await sendMail(transport, ch, payload, attempt.alertId, attempt.type);
  } catch (e) {
    throw classified(e);
  }
}

type Transport = ReturnType<typeof import('nodemailer').createTransport>;

function sendMail(transport: Transport, ch: EmailChannel, payload: EmailPayload, alertId: string, type: string) {
  return transport.sendMail({
    from: ch.from,
    to: ch.to,
    subject: payload.subject,
    text: payload.text,
    messageId: `<${alertId}@pinctl.monitor>`,
    headers: { 'X-Pinctl-Alert-Id': alertId, 'X-Pinctl-Alert-Type': type },
  });
}

/** The SMTP commands whose 5xx reply refuses this message (its sender, recipients or content). */
const MESSAGE_COMMANDS = new Set(['MAIL FROM', 'RCPT TO', 'DATA']);

/**
 * An SMTP failure, classified: a 5xx reply to MAIL FROM, RCPT TO or DATA refuses the message
 * itself (550 no such mailbox, 553 sender refused, 552/554 content refused): the same message
 * would be refused again, so it is not retried. Everything else is retried with backoff: 4xx
 * replies (451, 452, 421: the server asks to try later), connection errors and timeouts, and
 * also a refused login (535) or greeting (554 before MAIL): those concern the config or the
 * server, not the message, and a queued alert must still go out once the operator fixed them
 * (a reload) instead of being buried with every other alert of the outage. nodemailer reports
 * the deferred recipient when some were deferred and some refused (all rejected: it prefers a 4xx).
 */
export function classified(e: unknown): unknown {
  const err = e as { responseCode?: unknown; command?: unknown; message?: unknown };
  const code = typeof err?.responseCode === 'number' ? err.responseCode : 0;
  const permanent = code >= 500 && code <= 599 && MESSAGE_COMMANDS.has(String(err.command));
  if (!permanent) return e;
  return new DeliveryError(`smtp refused the message (${String(err.command)}): ${String(err.message)}`, {
    retryable: false,
    cause: e,
  });
}

export const emailChannel = {
  name: 'email',
  keys: ['smtp', 'from', 'to', 'passwordEnv', 'passwordFile', 'requireTLS', 'timeout'],
  hint: 'alerts.email needs smtp (smtp://USER@HOST:587 or smtps://…), from and to; the password comes from passwordFile or passwordEnv',
  parse,
  timeoutMs: (c) => c.timeoutMs,
  render: (view, alertId) => ({ subject: view.subject, text: alertText(view, alertId) }),
  renderTest: (t) => [{ subject: '[pinctl] test alert', text: testText(t.file, t.at, t.channel) }],
  legacyPayload: (m) => ({ subject: m.subject, text: m.text }),
  send,
  describe: (c) => `email to ${c.to.join(', ')} via ${new URL(c.smtp).host}`,
} satisfies AlertChannel<'email', EmailChannel, EmailPayload>;
