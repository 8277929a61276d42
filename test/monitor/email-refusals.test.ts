/**
 * How the email channel classifies what a real SMTP server (smtp-server on 127.0.0.1) answers,
 * command by command: a 5xx to MAIL FROM, RCPT TO or DATA refuses the message (dead); a 4xx, a
 * refused login (535), and a server that is not there are retried (see monitor/channels/email.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { emailChannel, EmailChannel } from '../../monitor/channels/email.js';
import { isRetryable } from '../../monitor/channels/index.js';
import { RefusingSmtp, refusingSmtp } from './channel-receivers.js';
import { viewOf } from './channel-sample.js';

let smtp: RefusingSmtp;
beforeAll(async () => {
  smtp = await refusingSmtp();
});
afterAll(() => smtp.close());

const channel = (smtpUrl: string): EmailChannel => ({
  smtp: smtpUrl,
  from: 'pinctl@example.test',
  to: ['ops@example.test'],
  password: null,
  requireTLS: false,
  timeoutMs: 5000,
});

async function attempt(ch: EmailChannel): Promise<unknown> {
  const payload = emailChannel.render(viewOf('new'), 'alert-email');
  const attempt = { alertId: 'alert-email', type: 'new', signal: AbortSignal.timeout(10_000) };
  return emailChannel.send(ch, payload, attempt).then(
    () => null,
    (e: unknown) => e,
  );
}

describe('email: permanent or temporary, by SMTP command and reply code', () => {
  const cases: [RefusingSmtp['refuseAt'], number, 'dead' | 'retried'][] = [
    ['MAIL FROM', 553, 'dead'],
    ['RCPT TO', 550, 'dead'],
    ['DATA', 554, 'dead'],
    ['MAIL FROM', 451, 'retried'],
    ['RCPT TO', 452, 'retried'],
    ['DATA', 421, 'retried'],
    ['AUTH', 535, 'retried'],
  ];
  it.each(cases)('%s answered %i: %s', async (at, code, expected) => {
    smtp.refuseAt = at;
    smtp.refuse = code;
    try {
      const user = at === 'AUTH' ? 'ops:wrong@' : '';
      const err = await attempt(channel(`smtp://${user}127.0.0.1:${smtp.port}`));
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain(String(code));
      expect(isRetryable(err) ? 'retried' : 'dead').toBe(expected);
    } finally {
      smtp.refuse = null;
      smtp.refuseAt = 'RCPT TO';
    }
  });

  it('a server that is not listening is retried', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await attempt(channel(`smtp://127.0.0.1:${port}`));
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(isRetryable(err)).toBe(true);
  });

  it('accepted again once the server accepts', async () => {
    const before = smtp.mails.length;
    expect(await attempt(channel(`smtp://127.0.0.1:${smtp.port}`))).toBeNull();
    expect(smtp.mails.length).toBe(before + 1);
  });
});
