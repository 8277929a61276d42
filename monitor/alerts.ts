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
import { cn } from './findings.js';
import type { AlertMessage, MonitorState, OutboxRow } from './state.js';
import { AlertType, StoredFinding } from './types.js';

export const LEASE_MS = 120_000;
/**
 * A deliverer's lease on one row lasts its attempt's total deadline plus this: long enough that no
 * other monitor takes a row whose send may still succeed (a duplicate), short enough that a row
 * held by a monitor killed mid-send is delivered by another within seconds, not minutes.
 */
export const LEASE_MARGIN_MS = 5_000;

export const alertId = (findingId: string, type: AlertType, at: string, channel: string) =>
  createHash('sha256').update(`${findingId}|${type}|${at}|${channel}`).digest('hex').slice(0, 32);

const TYPE_WORD: Record<AlertType, string> = { new: 'NEW', changed: 'CHANGED', reminder: 'REMINDER', resolved: 'RESOLVED' };

interface ChainEntry {
  position: string;
  subject: string;
  spkiSha256: string;
  sha256?: string;
  notAfter?: string;
}

function chainLines(label: string, chain: unknown): string[] {
  if (!Array.isArray(chain) || chain.length === 0) return [];
  return [
    `  ${label}:`,
    ...(chain as ChainEntry[]).map((c) => `    ${c.position.padEnd(12)} "${cn(c.subject)}"  pin ${c.spkiSha256}${c.notAfter ? `  until ${c.notAfter.slice(0, 10)}` : ''}`),
  ];
}

/** The "what changed" block: old → new pins and subjects, wherever the finding knows them. */
function changedLines(f: StoredFinding): string[] {
  const d = f.details;
  const lines: string[] = [];
  if (Array.isArray(d.changes)) {
    for (const c of d.changes as { text: string; from?: ChainEntry | null; to?: ChainEntry | null }[]) {
      lines.push(`  - ${c.text}`);
      if (c.from || c.to) {
        lines.push(`      old: ${c.from ? `"${c.from.subject}" pin ${c.from.spkiSha256}` : '(none)'}`);
        lines.push(`      new: ${c.to ? `"${c.to.subject}" pin ${c.to.spkiSha256}` : '(none)'}`);
      }
    }
  }
  lines.push(...chainLines('previous chain', d.previousChain));
  lines.push(...chainLines(f.kind === 'chain-drift' || d.previousChain ? 'new chain' : 'served chain', d.chain));
  if (Array.isArray(d.pins)) lines.push(`  pins the app ships (${String(d.pinsSource)}): ${(d.pins as string[]).join(', ')}`);
  if (Array.isArray(d.reasons)) lines.push(...(d.reasons as string[]).map((r) => `  ${r}`));
  if (d.certificate) lines.push(...chainLines('certificate', [d.certificate]));
  if (Array.isArray(d.groups)) {
    for (const g of d.groups as { addresses: string[]; chain: ChainEntry[] }[]) lines.push(...chainLines(`served by ${g.addresses.join(', ')}`, g.chain));
  }
  if (typeof d.message === 'string') lines.push(`  ${d.message}`);
  return lines;
}

/** The dynamic-pinning proposal attached to a chain-drift finding by the cycle: the file and how to publish it. */
function proposalLines(f: StoredFinding): string[] {
  const p = f.details.proposal as { file?: string; curl?: string; publish?: boolean; service?: string; domain?: string; keepBackupsUntil?: string; pins?: string[]; backups?: string[] } | undefined;
  if (!p || typeof p.file !== 'string') return [];
  return [
    `  new pin set${p.domain ? ` for ${p.domain}` : ''} written to ${p.file}: ${(p.pins ?? []).join(', ')} plus ${(p.backups ?? []).length} backup pin(s) (shipped pins and the old chain's keys) kept until at least ${p.keepBackupsUntil ?? '?'}`,
    p.publish
      ? `  the monitor publishes it to ${p.service}/v1/bundles/pins?merge=1 (that entry replaced, other domains kept; the outcome is in the history); to publish by hand: ${p.curl}`
      : `  publish it with: ${p.curl}`,
  ];
}

export function renderAlert(f: StoredFinding, type: AlertType, id: string, now: Date): AlertMessage {
  const addresses = ((f.details.addresses as string[] | undefined) ?? (f.address ? [f.address] : [])).filter(Boolean);
  const sev = type === 'resolved' ? 'RESOLVED' : f.severity.toUpperCase();
  const subject = `[pinctl] ${type === 'resolved' ? '' : `${sev} `}${type === 'new' ? '' : `${TYPE_WORD[type]}: `}${f.kind} ${f.title}`.replace(/\s+/g, ' ').slice(0, 200);
  const changed = changedLines(f);
  const proposal = proposalLines(f);
  const text = [
    type === 'resolved' ? `Resolved: ${f.title}` : f.title,
    '',
    `Endpoint:  ${f.endpoint}`,
    `Address:   ${addresses.join(', ') || '(all)'}`,
    `Problem:   ${f.kind}, severity ${f.severity}, open since ${f.openedAt}`,
    ...(type === 'resolved' ? [`Resolved:  ${f.resolvedAt ?? now.toISOString()}: ${f.resolution ?? 'cleared'}`] : []),
    ...(type === 'reminder' ? [`Reminder:  still open at ${now.toISOString()}`] : []),
    '',
    'What it means',
    `  ${f.explanation}`,
    ...(changed.length ? ['', 'What changed', ...changed] : []),
    ...(type === 'resolved' ? [] : ['', 'What to do', `  ${f.action}`]),
    ...(type === 'resolved' || proposal.length === 0 ? [] : ['', 'Proposed pins (dynamicPinning)', ...proposal]),
    '',
    `-- pinctl monitor · finding ${f.id} · alert ${id}`,
  ].join('\n');
  const icon = type === 'resolved' ? ':white_check_mark:' : f.severity === 'critical' ? ':rotating_light:' : ':warning:';
  const webhook = {
    text: `${icon} *${type === 'resolved' ? 'RESOLVED' : sev}${type === 'reminder' ? ' (reminder)' : type === 'changed' ? ' (changed)' : ''}* ${f.kind}: ${f.title}\n${type === 'resolved' ? f.resolution ?? '' : `${f.explanation}\n*What to do:* ${f.action}${proposal.length ? `\n*Proposed pins:* ${proposal.map((l) => l.trim()).join(' ')}` : ''}`}`,
    pinctl: {
      alertId: id,
      type,
      finding: {
        id: f.id,
        kind: f.kind,
        severity: f.severity,
        endpoint: f.endpoint,
        host: f.host,
        port: f.port,
        addresses,
        title: f.title,
        explanation: f.explanation,
        action: f.action,
        openedAt: f.openedAt,
        resolvedAt: f.resolvedAt,
        resolution: f.resolution,
        details: f.details,
      },
    },
  };
  return { subject, text, webhook };
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
    const row = await store.claimNext(now(), c.attemptMs(channel) + LEASE_MARGIN_MS, channel);
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
