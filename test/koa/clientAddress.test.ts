import { type ClientAddressSource, clientAddress } from 'session-process/koa';

import { describe, expect, it } from 'vitest';

/** What a Koa context gives `clientAddress`: the app's proxy settings and the raw request. */
function request(
  peer: string,
  headers: Record<string, string> = {},
  app: { proxy?: boolean; maxIpsCount?: number; proxyIpHeader?: string } = {},
) {
  return {
    app,
    req: { socket: { remoteAddress: peer }, headers } as unknown as ClientAddressSource['req'],
  };
}

describe('clientAddress', () => {
  it('is the peer address without app.proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('203.0.113.7', { 'x-forwarded-for': '6.6.6.6' }))).toBe(
      '203.0.113.7',
    );
  });

  it('reads X-Forwarded-For from the right behind one proxy (Koa default maxIpsCount 0)', () => {
    const app = { proxy: true };
    // The client wrote the left entries; the proxy appended the address it saw.
    const forged = request(
      '10.0.0.2',
      { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 198.51.100.4' },
      app,
    );
    expect(clientAddress(forged)).toBe('198.51.100.4');
    expect(clientAddress(request('10.0.0.2', {}, app))).toBe('10.0.0.2');
    expect(clientAddress(request('10.0.0.2', { 'x-forwarded-for': ' , ' }, app))).toBe('10.0.0.2');
  });

  it('skips as many hops as maxIpsCount says, and honours proxyIpHeader', () => {
    const twoHops = { proxy: true, maxIpsCount: 2 };
    // client-written, the client as the CDN saw it, the CDN as the load balancer saw it
    const xff = { 'x-forwarded-for': '6.6.6.6, 198.51.100.4, 192.0.2.10' };
    expect(clientAddress(request('10.0.0.2', xff, twoHops))).toBe('198.51.100.4');
    // A request that reached the inner proxy directly has one entry: that one.
    expect(clientAddress(request('10.0.0.2', { 'x-forwarded-for': '192.0.2.99' }, twoHops))).toBe(
      '192.0.2.99',
    );
    const realIp = { proxy: true, proxyIpHeader: 'X-Real-IP' };
    expect(
      clientAddress(request('10.0.0.2', { 'x-real-ip': '198.51.100.5', ...xff }, realIp)),
    ).toBe('198.51.100.5');
  });

  it('buckets IPv6 addresses by /64 unless told another prefix', () => {
    const a = clientAddress(request('2001:db8:1:2:aaaa::1'));
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientAddress(request('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'))).toBe(a);
    expect(clientAddress(request('2001:db8:1:3::1'))).not.toBe(a);
    expect(clientAddress(request('2001:db8:1:2ff::1'), { ipv6Prefix: 56 })).toBe(
      '2001:db8:1:200::/56',
    );
    expect(clientAddress(request('2001:db8::1'), { ipv6Prefix: 128 })).toBe('2001:db8:0:0:0:0:0:1');
    expect(() => clientAddress(request('::1'), { ipv6Prefix: 0 })).toThrow(RangeError);
  });

  it('reads mapped IPv4, ports, brackets and zones as the address they carry', () => {
    expect(clientAddress(request('::ffff:127.0.0.1'))).toBe('127.0.0.1');
    const app = { proxy: true };
    const via = (xff: string) =>
      clientAddress(request('10.0.0.2', { 'x-forwarded-for': xff }, app));
    expect(via('198.51.100.4:51234')).toBe('198.51.100.4');
    expect(via('[2001:db8:5:6::7]:443')).toBe('2001:db8:5:6::/64');
    expect(via('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(via('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
    expect(via('unknown')).toBe('unknown');
    expect(via('x'.repeat(500))).toHaveLength(64);
  });
});
