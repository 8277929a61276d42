/**
 * The status page, /api/status and `monitor status` with two vantages on one state
 * (vantage-status-rig.ts): one row per (endpoint, vantage), each with that vantage's addresses,
 * chain and pin verdict; the default vantage's row looks as it always did, a named one is labelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensslPin } from '../helpers/fixtures.js';
import { monitorCli } from './helpers.js';
import { startVantageRig, VantageRig } from './vantage-status-rig.js';
import type { StatusDocument } from '../../monitor/status-page/model.js';
import { cellText, detailLines } from '../../cli/views/watch-layout.js';

let rig: VantageRig;
beforeAll(async () => {
  rig = await startVantageRig();
}, 60_000);
afterAll(() => rig?.close());

describe('rows split by vantage', () => {
  it('/api/status: one entry per vantage, each with its own addresses, leaf key, pin verdict and findings', async () => {
    const doc = (await (await fetch(`${rig.base}/api/status`)).json()) as StatusDocument;
    const rows = doc.endpoints.filter((e) => e.endpoint === rig.id);
    expect(rows.map((r) => [r.vantage, r.vantages.map((v) => v.address), r.pinMatch, r.status])).toEqual([
      ['default', ['127.0.0.1'], true, 'warning'], // the state-wide vantage-disagreement shows on both
      ['eu', ['127.0.0.2'], false, 'critical'],
    ]);
    const leaf = (i: number) => rows[i]!.chain.find((c) => c.position === 'leaf')?.spkiSha256;
    expect([leaf(0), leaf(1)]).toEqual([opensslPin('leaf.pem'), opensslPin('leaf-new-key.pem')]);
    expect(rows.map((r) => r.findings.map((f) => [f.kind, f.vantage]).sort())).toEqual([
      [['vantage-disagreement', null]],
      [
        ['pin-mismatch', 'eu'],
        ['vantage-disagreement', null],
      ],
    ]);
  });

  it('status --watch: each vantage row is its own line, the named one labelled', async () => {
    const doc = (await (await fetch(`${rig.base}/api/status`)).json()) as StatusDocument;
    const rows = doc.endpoints.filter((e) => e.endpoint === rig.id);
    const now = new Date(doc.generatedAt);
    expect(rows.map((r) => cellText(r, 'endpoint', now))).toEqual([rig.id, `${rig.id} [eu]`]);
    expect(detailLines(rows[1]!, now)[0]).toMatch(new RegExp(`^${rig.id} \\[eu\\] · critical · 1/1 addresses`));
  });

  it('the page: the default row unlabelled as before, the eu row and its chain labelled', async () => {
    const html = await (await fetch(`${rig.base}/`)).text();
    expect(html).toContain(`<tr data-endpoint="${rig.id}"><td>`);
    expect(html).toMatch(new RegExp(`<tr data-endpoint="${rig.id}" data-vantage="eu"><td><a [^>]*>[^<]*</a> <span class="vantage"[^>]*>eu</span>`));
    expect(html).toContain('<h3 class="vantage-chain" data-vantage="eu">Seen from eu</h3>');
    expect(html.match(/<section class="endpoint"/g)).toHaveLength(1); // one section per endpoint, both views in it
    expect(html).toMatch(/ · 1 endpoint\(s\) seen from 2 vantages · /);
  });

  it('monitor status: --json rows carry their vantage; the text labels the named vantage', async () => {
    const json = await monitorCli(['monitor', 'status', '--config', rig.home, '--json']);
    const out = JSON.parse(json.stdout) as { endpoints: { endpoint: string; vantage: string; addresses: number; pinMatch: boolean }[] };
    expect(out.endpoints.map((r) => [r.endpoint, r.vantage, r.addresses, r.pinMatch])).toEqual([
      [rig.id, 'default', 1, true],
      [rig.id, 'eu', 1, false],
    ]);
    const text = await monitorCli(['monitor', 'status', '--config', rig.home], { env: { NO_COLOR: '1' } });
    const lines = text.stdout.split('\n').filter((l) => l.includes(rig.id) && /pins/i.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^warning +${rig.id} +1/1 up +pins match`));
    expect(lines[1]).toMatch(new RegExp(`^critical +${rig.id} \\[eu\\] +1/1 up +PINS FAIL`));
  });
});
