/**
 * Alerts: which channels an alert goes to, its payload per channel (rendered once, when queued:
 * monitor/channels), and how the rows leave a durable outbox in the state store.
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
 * out twice: when the lease ends the row is sent again with the same payload: the same Message-ID
 * (email), Idempotency-Key header and `pinctl.alertId` field (webhook), alert id (Slack) or
 * dedup_key (PagerDuty), so the receiver can drop or merge the copy.
 * A failed send is retried with exponential backoff (alerts.retry.initial doubling up to .max) and
 * survives restarts, since the queue is in the database; a send the receiver refused as a message
 * (the channel throws DeliveryError{retryable: false}) makes the row dead at once.
 */
import { createHash } from 'node:crypto';
import { describeError } from '../src/errors.js';
import { AlertsConfig } from './config.js';
import type { AlertMessage, MonitorState, OutboxRow } from './state.js';
import { AlertType, StoredFinding } from './types.js';
import {
  AnyChannel,
  CHANNELS,
  CHANNEL_NAMES,
  channelNamed,
  configuredChannels,
  DeliveryError,
  isRetryable,
} from './channels/index.js';
import { alertText, alertView } from './channels/view.js';
import type { AlertView, EmailChannel, TestAlert, WebhookChannel } from './channels/index.js';
import { emailChannel } from './channels/email.js';
import { webhookChannel } from './channels/webhook.js';

export const LEASE_MS = 120_000;
/**
 * A deliverer's lease on one row lasts its attempt's total deadline plus this: long enough that no
 * other monitor takes a row whose send may still succeed (a duplicate), short enough that a row
 * held by a monitor killed mid-send is delivered by another within seconds, not minutes.
 */
export const LEASE_MARGIN_MS = 5_000;

export const alertId = (findingId: string, type: AlertType, at: string, channel: string) =>
  createHash('sha256').update(`${findingId}|${type}|${at}|${channel}`).digest('hex').slice(0, 32);

/** Every channel's rendering of one alert (the email and webhook ones), for callers that want them all. */
export function renderAlert(f: StoredFinding, type: AlertType, id: string, now: Date): AlertMessage {
  const view = alertView(f, type, now);
  return { subject: view.subject, text: alertText(view, id), webhook: webhookChannel.render(view, id) };
}

/**
 * The outbox message of one alert for one channel: subject and text (logs, status page) and the
 * channel's payload, rendered now and stored, so a retry sends exactly these bytes.
 */
export function queuedMessage(channel: AnyChannel, cfg: unknown, view: AlertView, id: string): AlertMessage {
  return {
    subject: view.subject,
    text: alertText(view, id),
    payloads: { [channel.name]: channel.render(view, id, cfg) },
  };
}

/** The configured channels this alert goes to (a channel may take only some severities). */
export function channelsFor(alerts: AlertsConfig, view: AlertView): { entry: AnyChannel; cfg: unknown }[] {
  return configuredChannels(alerts as unknown as Record<string, unknown>).filter(
    ({ entry, cfg }) => entry.accepts?.(cfg, view) ?? true,
  );
}

/** The stored payload of a row; rows queued before per-channel payloads carry subject/text/webhook. */
export function payloadOf(entry: AnyChannel, row: Pick<OutboxRow, 'id' | 'message'>): unknown {
  const stored = row.message.payloads?.[entry.name];
  if (stored !== undefined) return stored;
  const legacy = entry.legacyPayload?.(row.message);
  if (legacy !== undefined) return legacy;
  throw new DeliveryError(`alert ${row.id} has no ${entry.name} payload (queued by another version?)`, {
    retryable: false,
  });
}

/**
 * Sends one alert. `signal` fires when the attempt's total deadline passes or the monitor stops:
 * the sender must drop its connection then (a tarpit server answering one line a second never
 * trips an idle timeout).
 */
export type Sender = (row: OutboxRow, signal?: AbortSignal) => Promise<void>;
/** By channel name (a registry entry's name). */
export type Senders = Partial<Record<string, Sender>>;

/** A registry entry with its config, as a Sender of outbox rows. */
export function senderFor(entry: AnyChannel, cfg: unknown): Sender {
  return (row, signal) =>
    entry.send(cfg, payloadOf(entry, row), {
      alertId: row.id,
      type: row.type,
      signal: signal ?? new AbortController().signal,
    });
}

export const emailSender = (ch: EmailChannel): Sender => senderFor(emailChannel, ch);
export const webhookSender = (ch: WebhookChannel): Sender => senderFor(webhookChannel, ch);

export function defaultSenders(cfg: AlertsConfig): Senders {
  const out: Senders = {};
  for (const { entry, cfg: c } of configuredChannels(cfg as unknown as Record<string, unknown>))
    out[entry.name] = senderFor(entry, c);
  return out;
}

export interface TestResult {
  channel: string;
  ok: boolean;
  error: string | null;
}

/**
 * `monitor test-alert`: each configured channel's test payloads (PagerDuty: a trigger and its
 * resolve), each send bounded by the channel's total attempt deadline.
 */
export async function sendTestAlerts(
  cfg: AlertsConfig,
  t: Omit<TestAlert, 'id' | 'channel'>,
  signal?: AbortSignal,
): Promise<TestResult[]> {
  const results: TestResult[] = [];
  for (const { entry, cfg: c } of configuredChannels(cfg as unknown as Record<string, unknown>)) {
    const test: TestAlert = { ...t, channel: entry.name, id: `test-${t.at.replace(/[^0-9]/g, '')}-${entry.name}` };
    try {
      for (const payload of entry.renderTest(test, c)) {
        const send = (s: AbortSignal) => entry.send(c, payload, { alertId: test.id, type: 'test', signal: s });
        await within(send, attemptDeadlineMs(cfg, entry.name), signal);
      }
      results.push({ channel: entry.name, ok: true, error: null });
    } catch (e) {
      results.push({ channel: entry.name, ok: false, error: describeError(e) });
    }
  }
  return results;
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

/** A channel's timeout bounds each wait of an attempt; the whole attempt gets this many of them. */
export const ATTEMPT_FACTOR = 3;
const DEFAULT_CHANNEL_TIMEOUT_MS = 10_000;

export function attemptDeadlineMs(cfg: AlertsConfig, channel: string): number {
  const entry = channelNamed(channel);
  const ch = (cfg as unknown as Record<string, unknown>)[channel];
  return ATTEMPT_FACTOR * (entry && ch ? entry.timeoutMs(ch) : DEFAULT_CHANNEL_TIMEOUT_MS);
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
  if (rebased > 0)
    log?.(
      `${rebased} alert(s) were due later than any retry can be (the clock was ahead when they were scheduled): due now`,
    );
  const deadline = now().getTime() + (opts.deadlineMs ?? 60_000);
  const extra = (await store.channels()).filter((c) => !CHANNEL_NAMES.includes(c));
  const attemptMs = opts.attemptMs ?? ((channel: string) => attemptDeadlineMs(cfg, channel));
  const ctx: ChannelLoop = { store, cfg, senders, now, log, deadline, signal: opts.signal, attemptMs, result };
  await Promise.all([...CHANNEL_NAMES, ...extra].map((channel) => deliverChannel(ctx, channel)));
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
      await store.markFailed(
        row.id,
        row.channel,
        `the ${row.channel} channel is no longer configured`,
        null,
        row.leaseToken,
      );
      result.failed.push({ row, error: `no ${row.channel} channel`, retryAt: null });
      continue;
    }
    try {
      await sendWithin(send, row, c.attemptMs(channel), c.signal);
    } catch (e) {
      const error = describeError(e);
      const retryAt = isRetryable(e)
        ? new Date(now().getTime() + Math.max(backoffMs(row.attempts, c.cfg), (e as DeliveryError).retryAfterMs ?? 0))
        : null;
      if (await store.markFailed(row.id, row.channel, error, retryAt, row.leaseToken)) {
        result.failed.push({ row, error, retryAt: retryAt?.toISOString() ?? null });
        const next = retryAt ? `retry at ${retryAt.toISOString()}` : 'refused by the receiver: not retried';
        log?.(`alert ${row.id} (${row.channel}, ${row.type}) failed, attempt ${row.attempts}: ${error}; ${next}`);
      } else
        log?.(
          `alert ${row.id} (${row.channel}, ${row.type}) failed after its lease ended: ${error}; another deliverer holds it now`,
        );
      continue;
    }
    if (await store.markSent(row.id, row.channel, now(), row.leaseToken)) {
      result.sent.push(row);
      log?.(`alert ${row.id} (${row.channel}, ${row.type}) sent: ${row.message.subject}`);
    } else
      log?.(`alert ${row.id} (${row.channel}, ${row.type}) sent after its lease ended; another deliverer holds it now`);
  }
}

/** One attempt, bounded in total: on the deadline (or `stop`) the sender is aborted and this rejects at once. */
function sendWithin(send: Sender, row: OutboxRow, ms: number, stop?: AbortSignal): Promise<void> {
  return within((signal) => send(row, signal), ms, stop);
}

async function within(send: (signal: AbortSignal) => Promise<void>, ms: number, stop?: AbortSignal): Promise<void> {
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
    await Promise.race([send(attempt.signal), bounded]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop?.removeEventListener('abort', onStop);
  }
}
