/** The pure grouping behind dynamic pinning: which endpoints one pin-set entry governs. */
import { describe, expect, it } from 'vitest';
import { domainGroups } from '../../monitor/proposals.js';
import type { EndpointConfig, ExpectedPins } from '../../monitor/config.js';

const ep = (id: string, sni: string, pins: Partial<ExpectedPins> | null = null) => ({ id, host: sni, sni, port: 443, addresses: null, pins: pins && { pins: [], ...pins } }) as unknown as EndpointConfig;

describe('domainGroups', () => {
  it('each endpoint is in the group of the entry that governs it in apps', () => {
    const endpoints = [
      ep('a', 'example.com', { format: 'android', includeSubdomains: true }), // exact entry, covers subdomains
      ep('b', 'api.example.com', { format: 'android' }), // covered only through example.com
      ep('c', 'x.api.example.com', { format: 'android' }), // nearest parent that includes subdomains: example.com
      ep('d', 'api.example.com', { format: 'android', includeSubdomains: false }), // exact entry of its own
      ep('e', '10.0.0.1', { format: 'inline' }), // an IP name: no entry
      ep('f', 'other.org', { format: 'inline' }), // inline pins: its own name
      ep('g', 'notexample.com', { format: 'android' }), // not a subdomain of example.com
      ep('h', 'y.example.com'), // pins unknown: its own name
    ];
    const groups = domainGroups(endpoints, new Map());
    expect([...groups].map(([domain, g]) => [domain, g.includeSubdomains, g.endpoints.map((e) => e.id).join(',')])).toEqual([
      ['example.com', true, 'a,b,c'],
      ['api.example.com', false, 'd'],
      ['other.org', false, 'f'],
      ['notexample.com', false, 'g'],
      ['y.example.com', false, 'h'],
    ]);
  });
});
