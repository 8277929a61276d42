/**
 * Alerts: what the messages say (rendered once, when queued) and how they leave (email through
 * nodemailer, webhook through fetch), from a durable outbox in the state store.
 *
 * Delivery is at-least-once with an idempotency key, the outbox pattern:
 *  1. the sweep's transaction queues the alert rows together with the finding changes that caused
 *     them (a crash before that commit queues nothing and changes nothing: the next sweep finds the
 *     same problem new again and queues it then);
 *  2. claimNext() moves ONE due row to 'sending' with a lease and a lease token, atomically, so a
 *     second monitor process cannot claim it too (and rows not reached yet stay claimable);
 *  3. the message is sent; 4. markSent() commits 'sent' right after the server accepted it, only
 *     while the lease token still matches (else the lease ran out and another deliverer owns it).
 * A crash between 3 and 4 (a window of one SMTP/HTTP round trip) is the only way a message can go
 * out twice: when the lease ends the row is sent again with the same Message-ID (email) or
 * Idempotency-Key header and `pinctl.alertId` field (webhook), so the receiver can drop the copy.
 * A failed send is retried with exponential backoff (alerts.retry.initial doubling up to .max) and
 * survives restarts, since the queue is in the database.
 */
import nodemailer from 'nodemailer';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describeError } from '../src/errors.js';
import { AlertsConfig, EmailChannel, WebhookChannel } from './config.js';
import { alertMessage, viewOf } from './projection.js';
import type { AlertMessage, MonitorState, OutboxRow } from './state.js';
import { AlertType, StoredFinding } from './types.js';

export const LEASE_MS = 120_000;

export const alertId = (findingId: string, type: AlertType, at: string, channel: string) =>
  createHash('sha256').update(`${findingId}|${type}|${at}|${channel}`).digest('hex').slice(0, 32);

/** Rendered from the finding's one projection (monitor/projection.ts), as --json prints it. */
export function renderAlert(f: StoredFinding, type: AlertType, id: string, now: Date): AlertMessage {
  return alertMessage(viewOf(f), type, id, now);
}

/**
 * Sends one alert. `signal` fires when the attempt's total deadline passes or the monitor stops:
 * the sender must drop its connection then (a tarpit server answering one line a second never
 * trips an idle timeout).
 */
export type Sender = (row: OutboxRow, signal?: AbortSignal) => Promise<void>;
export interface Senders {
  email?: Sender;
  webhook?: Sender;
}

export function emailSender(ch: EmailChannel): Sender {
  const u = new URL(ch.smtp);
  const user = decodeURIComponent(u.username);
  const pass = ch.password ?? (u.password ? decodeURIComponent(u.password) : '');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 25;
  return async (row, signal) => {
    // Our own socket (nodemailer's getSocket hook), so an aborted attempt can destroy it.
    const getSocket = (_o: unknown, done: (err: Error | null, s?: { connection: net.Socket }) => void) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => done(null, { connection: socket }));
      socket.once('error', (e) => done(e));
      const abort = () => socket.destroy(new Error('delivery attempt aborted'));
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
      socket.once('close', () => signal?.removeEventListener('abort', abort));
    };
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
    await transport.sendMail({
      from: ch.from,
      to: ch.to,
      subject: row.message.subject,
      text: row.message.text,
      messageId: `<${row.id}@pinctl.monitor>`,
      headers: { 'X-Pinctl-Alert-Id': row.id, 'X-Pinctl-Alert-Type': row.type },
    });
  };
}

export function webhookSender(ch: WebhookChannel): Sender {
  return async (row, signal) => {
    const res = await fetch(ch.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': row.id,
        'user-agent': 'pinctl-monitor',
        ...(ch.token ? { authorization: `Bearer ${ch.token}` } : {}),
      },
      body: JSON.stringify(row.message.webhook),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(ch.timeoutMs)]) : AbortSignal.timeout(ch.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`webhook answered HTTP ${res.status}`);
  };
}

export function defaultSenders(cfg: AlertsConfig): Senders {
  return { email: cfg.email ? emailSender(cfg.email) : undefined, webhook: cfg.webhook ? webhookSender(cfg.webhook) : undefined };
}

export function backoffMs(attempts: number, cfg: Pick<AlertsConfig, 'retryInitialMs' | 'retryMaxMs'>): number {
  return Math.min(cfg.retryInitialMs * 2 ** Math.max(0, attempts - 1), cfg.retryMaxMs);
}

export interface DeliveryResult {
  sent: OutboxRow[];
  failed: { row: OutboxRow; error: string; retryAt: string | null }[];
}

/** Serializes deliveries within one process: the sweep's delivery and the delivery timer share one. */
export class DeliveryLock {
  private tail: Promise<unknown> = Promise.resolve();
  private held = false;
  get busy(): boolean {
    return this.held;
  }
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      this.held = true;
      try {
        return await fn();
      } finally {
        this.held = false;
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export interface DeliverOptions {
  /** Stop claiming new rows after this long (per call); what is left waits for the next call. Default 60 s. */
  deadlineMs?: number;
  /** Shared in-process lock (see DeliveryLock). */
  lock?: DeliveryLock;
  /** Aborts the attempts in flight and stops claiming (the monitor is stopping). */
  signal?: AbortSignal;
  /** Total time one send may take, by channel; default ATTEMPT_FACTOR × the channel's timeout. */
  attemptMs?: (channel: string) => number;
}

const CHANNELS = ['email', 'webhook'] as const;
/** A channel's timeout bounds each wait of an attempt; the whole attempt gets this many of them. */
export const ATTEMPT_FACTOR = 3;
const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;

export function attemptDeadlineMs(cfg: AlertsConfig, channel: string): number {
  const ch = channel === 'email' ? cfg.email : channel === 'webhook' ? cfg.webhook : null;
  return ATTEMPT_FACTOR * (ch?.timeoutMs ?? DEFAULT_CHANNEL_TIMEOUT_MS);
}

/**
 * Sends every due alert (claim ONE row → send → mark sent only while still holding its lease),
 * until nothing is due or the per-call deadline passed. Each channel runs its own loop, at the same
 * time as the others, and every attempt has a total deadline (real time, whatever the injected
 * clock says): a tarpit mail server costs the email channel one deadline per row and never delays
 * the webhook.
 */
export async function deliverDue(
  store: MonitorState,
  cfg: AlertsConfig,
  senders: Senders,
  now: () => Date,
  log?: (line: string) => void,
  opts: DeliverOptions = {},
): Promise<DeliveryResult> {
  if (opts.lock) {
    const lock = opts.lock;
    return lock.run(() => deliverDue(store, cfg, senders, now, log, { ...opts, lock: undefined }));
  }
  const result: DeliveryResult = { sent: [], failed: [] };
  const rebased = await store.rebaseFutureAlerts(now(), cfg.retryMaxMs + LEASE_MS);
  if (rebased > 0) log?.(`${rebased} alert(s) were due later than any retry can be (the clock was ahead when they were scheduled): due now`);
  const deadline = now().getTime() + (opts.deadlineMs ?? 60_000);
  const extra = (await store.channels()).filter((c) => !(CHANNELS as readonly string[]).includes(c));
  const attemptMs = opts.attemptMs ?? ((channel: string) => attemptDeadlineMs(cfg, channel));
  const ctx: ChannelLoop = { store, cfg, senders, now, log, deadline, signal: opts.signal, attemptMs, result };
  await Promise.all([...CHANNELS, ...extra].map((channel) => deliverChannel(ctx, channel)));
  return result;
}

interface ChannelLoop {
  store: MonitorState;
  cfg: AlertsConfig;
  senders: Senders;
  now: () => Date;
  log?: (line: string) => void;
  deadline: number;
  signal?: AbortSignal;
  attemptMs: (channel: string) => number;
  result: DeliveryResult;
}

async function deliverChannel(c: ChannelLoop, channel: string): Promise<void> {
  const { store, now, log, result } = c;
  while (now().getTime() < c.deadline && !c.signal?.aborted) {
    const row = await store.claimNext(now(), LEASE_MS, channel);
    if (!row) return;
    const send = c.senders[row.channel];
    if (!send) {
      await store.markFailed(row.id, row.channel, `the ${row.channel} channel is no longer configured`, null, row.leaseToken);
      result.failed.push({ row, error: `no ${row.channel} channel`, retryAt: null });
      continue;
    }
    try {
      await sendWithin(send, row, c.attemptMs(channel), c.signal);
    } catch (e) {
      const error = describeError(e);
      const retryAt = new Date(now().getTime() + backoffMs(row.attempts, c.cfg));
      if (await store.markFailed(row.id, row.channel, error, retryAt, row.leaseToken)) {
        result.failed.push({ row, error, retryAt: retryAt.toISOString() });
        log?.(`alert ${row.id} (${row.channel}, ${row.type}) failed, attempt ${row.attempts}: ${error}; retry at ${retryAt.toISOString()}`);
      } else log?.(`alert ${row.id} (${row.channel}, ${row.type}) failed after its lease ended: ${error}; another deliverer holds it now`);
      continue;
    }
    if (await store.markSent(row.id, row.channel, now(), row.leaseToken)) {
      result.sent.push(row);
      log?.(`alert ${row.id} (${row.channel}, ${row.type}) sent: ${row.message.subject}`);
    } else log?.(`alert ${row.id} (${row.channel}, ${row.type}) sent after its lease ended; another deliverer holds it now`);
  }
}

/** One attempt, bounded in total: on the deadline (or `stop`) the sender is aborted and this rejects at once. */
async function sendWithin(send: Sender, row: OutboxRow, ms: number, stop?: AbortSignal): Promise<void> {
  const attempt = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const bounded = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no complete delivery within ${ms} ms (the whole attempt; the server is too slow or a tarpit)`));
      attempt.abort();
    }, ms);
    onStop = () => {
      reject(new Error('the monitor is stopping'));
      attempt.abort();
    };
    if (stop?.aborted) onStop();
    else stop?.addEventListener('abort', onStop, { once: true });
  });
  try {
    await Promise.race([send(row, attempt.signal), bounded]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop?.removeEventListener('abort', onStop);
  }
}
