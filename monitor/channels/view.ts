/**
 * The alert projection (AlertView) and the plain text every channel shares: built once per
 * (finding, alert type) when the alert is queued, from the finding's FindingView; each channel
 * renders its payload from it.
 */
import { viewOf } from '../projection.js';
import type { AlertType, StoredFinding } from '../types.js';
import type { AlertView } from './types.js';

const TYPE_WORD: Record<AlertType, string> = {
  new: 'NEW',
  changed: 'CHANGED',
  reminder: 'REMINDER',
  resolved: 'RESOLVED',
};

/**
 * The projection every channel renders from: the finding's one FindingView (monitor/projection.ts,
 * which --json prints too) with the alert's type, time and subject.
 */
export function alertView(f: StoredFinding, type: AlertType, now: Date): AlertView {
  const view = viewOf(f);
  const sev = type === 'resolved' ? 'RESOLVED' : f.severity.toUpperCase();
  const subject =
    `[pinctl] ${type === 'resolved' ? '' : `${sev} `}${type === 'new' ? '' : `${TYPE_WORD[type]}: `}${f.kind} ${f.title}`
      .replace(/\s+/g, ' ')
      .slice(0, 200);
  return {
    type,
    at: now.toISOString(),
    finding: f,
    addresses: view.addresses,
    subject,
    changed: view.changed,
    proposal: view.proposal,
    details: view.details,
  };
}

/** The plain-text message (the email body; other channels' fallback). */
export function alertText(v: AlertView, alertId: string): string {
  const { finding: f, type } = v;
  return [
    type === 'resolved' ? `Resolved: ${f.title}` : f.title,
    '',
    `Endpoint:  ${f.endpoint}`,
    `Address:   ${v.addresses.join(', ') || '(all)'}`,
    `Problem:   ${f.kind}, severity ${f.severity}, open since ${f.openedAt}`,
    ...(type === 'resolved' ? [`Resolved:  ${f.resolvedAt ?? v.at}: ${f.resolution ?? 'cleared'}`] : []),
    ...(type === 'reminder' ? [`Reminder:  still open at ${v.at}`] : []),
    '',
    'What it means',
    `  ${f.explanation}`,
    ...(v.changed.length ? ['', 'What changed', ...v.changed] : []),
    ...(type === 'resolved' ? [] : ['', 'What to do', `  ${f.action}`]),
    ...(type === 'resolved' || v.proposal.length === 0 ? [] : ['', 'Proposed pins (dynamicPinning)', ...v.proposal]),
    '',
    `-- pinctl monitor · finding ${f.id} · alert ${alertId}`,
  ].join('\n');
}

/** The test-alert text every channel sends. */
export const testText = (file: string, at: string, channel: string) =>
  `This is a test message from pinctl monitor (${file}), sent at ${at} through the ${channel} channel.\n` +
  'Nothing is wrong: real alerts look like this one and say what to do.';
