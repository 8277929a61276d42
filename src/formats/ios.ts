/**
 * Apple App Transport Security NSPinnedDomains (iOS 14+). ATS needs a match in EACH list that is
 * present: NSPinnedLeafIdentities against the leaf only, NSPinnedCAIdentities against any CA.
 */
import { DomainPins, Pin, PinSet, Warning } from '../core/model.js';
import { describePin, xmlCommentText, xmlEscape } from './escape.js';
import { render } from './template.js';
import { uniquePins } from './validate.js';

export interface IosDomainPlan {
  leaf: Pin[];
  ca: Pin[];
  /** Backups left out because no in-service leaf pin is there to match today. */
  omittedBackups: Pin[];
}

export function iosPlan(d: DomainPins): IosDomainPlan {
  const leafPins = uniquePins(d, ['leaf']);
  const backups = uniquePins(d, ['backup']);
  const ca = uniquePins(d, ['intermediate', 'root']);
  if (leafPins.length === 0) return { leaf: [], ca, omittedBackups: backups };
  return { leaf: uniquePins(d, ['leaf', 'backup']), ca, omittedBackups: [] };
}

export function renderIos(pinSet: PinSet, template: string): string {
  const pinView = (p: Pin) => ({ pin: p.spkiSha256, comment: xmlCommentText(describePin(p)) });
  const domains = pinSet.domains.flatMap((d) => {
    const plan = iosPlan(d);
    if (plan.leaf.length === 0 && plan.ca.length === 0) return []; // ATS refuses an entry with neither list
    return [{
      domain: d.domain.toLowerCase(),
      includeSubdomains: d.includeSubdomains,
      hasLeaf: plan.leaf.length > 0,
      leaf: plan.leaf.map(pinView),
      hasCa: plan.ca.length > 0,
      ca: plan.ca.map(pinView),
    }];
  });
  return render(template, { domains }, xmlEscape);
}

export function iosWarnings(pinSet: PinSet): Warning[] {
  const out: Warning[] = [];
  if (pinSet.expiration !== null) {
    out.push({
      code: 'ios-no-expiration',
      severity: 'info',
      message: `NSPinnedDomains has no expiration: the pin-set expiration ${pinSet.expiration} is not applied on iOS; the pins stay enforced until the app ships new ones`,
    });
  }
  for (const d of pinSet.domains) {
    const domain = d.domain.toLowerCase();
    const plan = iosPlan(d);
    if (plan.omittedBackups.length > 0) {
      out.push({
        code: 'ios-backup-omitted',
        severity: 'warning',
        domain,
        message: `${plan.omittedBackups.length} backup pin(s) left out of NSPinnedLeafIdentities: with no in-service leaf pin beside them, ATS would compare the live leaf against backups only and fail every connection today`,
      });
    }
    if (plan.leaf.length === 0 && plan.ca.length === 0) {
      out.push({
        code: 'ios-domain-omitted',
        severity: 'danger',
        domain,
        message: 'left out of NSPinnedDomains: it has only backup pins, none in service today, so iOS will NOT pin it',
      });
    } else if (plan.leaf.length > 0 && plan.ca.length > 0) {
      out.push({
        code: 'ios-leaf-and-ca',
        severity: 'warning',
        domain,
        message: 'has both NSPinnedLeafIdentities and NSPinnedCAIdentities: iOS requires a match in BOTH, so a new leaf key (even a pinned backup) still needs a pinned CA, and a CA change breaks the app even with an unchanged leaf key',
      });
    }
  }
  return out;
}
