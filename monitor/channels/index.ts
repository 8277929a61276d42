/**
 * THE registry of alert channels. A new channel is one file implementing AlertChannel plus one
 * line here: the `alerts:` config section, the outbox, delivery, `monitor test-alert`, metrics,
 * `status` and the contract test (test/monitor/channel-contract.test.ts) all iterate CHANNELS.
 * The order is the order of delivery loops, test messages and listings.
 */
import type { AlertChannel } from './types.js';
import { emailChannel } from './email.js';
import { webhookChannel } from './webhook.js';
import { slackChannel } from './slack.js';
import { pagerdutyChannel } from './pagerduty.js';

export const CHANNELS = [emailChannel, webhookChannel, slackChannel, pagerdutyChannel] as const;

type Entry = (typeof CHANNELS)[number];
export type ChannelName = Entry['name'];
type ConfigOf<E> = E extends AlertChannel<string, infer C, unknown> ? C : never;

/** `alerts.email`, `alerts.webhook`, …: one field per registry entry, null when not configured. */
export type ChannelConfigs = { [E in Entry as E['name']]: ConfigOf<E> | null };

export const CHANNEL_NAMES: readonly string[] = CHANNELS.map((c) => c.name);

/** Any entry, seen through the common interface (its config and payload as opaque values). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyChannel = AlertChannel<string, any, any>;

export function channelNamed(name: string): AnyChannel | undefined {
  return (CHANNELS as readonly AnyChannel[]).find((c) => c.name === name);
}

/** The configured channels of an `alerts` section, in registry order. */
export function configuredChannels(alerts: Partial<Record<string, unknown>>): { entry: AnyChannel; cfg: unknown }[] {
  return (CHANNELS as readonly AnyChannel[]).flatMap((entry) => {
    const cfg = alerts[entry.name];
    return cfg === null || cfg === undefined ? [] : [{ entry, cfg }];
  });
}

export type { AlertChannel, AlertView, Attempt, ChannelConfigKit, TestAlert } from './types.js';
export { DeliveryError, isRetryable } from './types.js';
export { alertView, alertText } from './view.js';
export type { EmailChannel } from './email.js';
export type { WebhookChannel } from './webhook.js';
export type { SlackChannel } from './slack.js';
export type { PagerDutyChannel } from './pagerduty.js';
