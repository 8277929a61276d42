/** The pure grouping behind dynamic pinning: which endpoints one pin-set entry applies to. */
import { describe, expect, it } from 'vitest';
import { domainGroups } from '../../monitor/proposals.js';
import type { EndpointConfig } from '../../monitor/config.js';

const ep = (id: string, sni: string, includeSubdomains?: boolean) =>
  ({ id, host: sni, sni, port: 443, addresses: null, pins: includeSubdomains === undefined ? null : { pins: [], includeSubdomains } }) as unknown as EndpointConfig;

describe('domainGroups', () => {
  it('groups by SNI name, adds subdomains to a parent that includes them, skips IP names', () => {
    const endpoints = [ep('a', 'example.com', true), ep('b', 'API.example.com'), ep('c', 'x.api.example.com'), ep('d', 'api.example.com', false), ep('e', '10.0.0.1'), ep('f', 'other.org'), ep('g', 'notexample.com')];
    const groups = domainGroups(endpoints, new Map());
    const view = [...groups].map(([domain, g]) => [domain, g.includeSubdomains, g.endpoints.map((e) => e.id).sort().join(',')]);
    expect(view).toEqual([
      ['example.com', true, 'a,b,c,d'],
      ['api.example.com', false, 'b,d'],
      ['x.api.example.com', false, 'c'],
      ['other.org', false, 'f'],
      ['notexample.com', false, 'g'],
    ]);
  });
});
