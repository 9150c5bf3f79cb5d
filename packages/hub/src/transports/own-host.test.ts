import { describe, expect, it } from 'vitest';
import { createOwnHostCheck } from './own-host.ts';

describe('createOwnHostCheck', () => {
  const own = createOwnHostCheck({ addresses: () => ['127.0.0.1', '192.168.1.5', 'fe80::1'], hostName: () => 'hub.example.net' });

  it('accepts the address the connection reached, and this host\'s addresses', () => {
    expect(own('10.0.0.7', '10.0.0.7')).toBe(true);
    expect(own('10.0.0.7', '::ffff:10.0.0.7')).toBe(true);
    expect(own('192.168.1.5', undefined)).toBe(true);
    expect(own('[fe80::1]', undefined)).toBe(true);
    expect(own('192.168.1.6', '192.168.1.5')).toBe(false);
  });

  it('accepts this host\'s name, bare or under a local-only suffix, and no other name', () => {
    for (const n of ['hub', 'hub.example.net', 'hub.lan', 'hub.local', 'hub.home.arpa']) expect(own(n, '192.168.1.5'), n).toBe(true);
    for (const n of ['evil.example', 'hub.evil.example', 'hubx.lan', '']) expect(own(n, '192.168.1.5'), n).toBe(false);
  });
});
