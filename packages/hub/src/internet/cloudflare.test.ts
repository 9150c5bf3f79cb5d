import { describe, expect, it } from 'vitest';
import { checkValues, cloudflareDnsClass, fullName, readRecordArg, recordText } from './cloudflare.ts';

const a = { type: 'A', name: 'www.example.com', content: '192.0.2.10', ttl: 1, proxied: false };

describe('cloudflare_dns arguments', () => {
  it('only an explicit list is a read', () => {
    expect(cloudflareDnsClass({ action: 'list' })).toBe('read');
    for (const action of ['create', 'update', 'delete', 'LIST', undefined, 7]) expect(cloudflareDnsClass({ action })).toBe('write');
  });

  it('names a relative name, @ and a full name in the zone; refuses one outside it', () => {
    expect(fullName('www', 'example.com')).toBe('www.example.com');
    expect(fullName('@', 'example.com')).toBe('example.com');
    expect(fullName('VPN.Example.com.', 'example.com')).toBe('vpn.example.com');
    expect(fullName('*.lab.example.com', 'example.com')).toBe('*.lab.example.com');
    expect(() => fullName('www.other.org', 'example.com')).toThrow('record.name: www.other.org is not in zone example.com');
    expect(() => fullName('bad name', 'example.com')).toThrow('record.name: "bad name" is not a DNS name');
  });

  it('checks each type and names the field', () => {
    expect(checkValues(a)).toBeUndefined();
    expect(checkValues({ ...a, content: '2001:db8::1' })).toMatch(/^record\.content: an A record needs an IPv4 address/);
    expect(checkValues({ ...a, type: 'AAAA' })).toMatch(/^record\.content: an AAAA record needs an IPv6 address/);
    expect(checkValues({ ...a, type: 'AAAA', content: '2001:db8::1' })).toBeUndefined();
    expect(checkValues({ ...a, type: 'CNAME', content: 'not a name' })).toMatch(/^record\.content: a CNAME record needs a host name/);
    expect(checkValues({ ...a, type: 'CNAME', content: 'www.example.com' })).toBe('record.content: a CNAME cannot point at itself (www.example.com)');
    expect(checkValues({ type: 'MX', name: 'example.com', content: 'mail.example.com', ttl: 1 })).toBe('record.priority: an MX record needs a priority from 0 to 65535');
    expect(checkValues({ type: 'MX', name: 'example.com', content: 'mail.example.com', ttl: 1, priority: 10 })).toBeUndefined();
    expect(checkValues({ type: 'TXT', name: 'example.com', content: 'x', ttl: 1, proxied: true })).toBe('record.proxied: only A, AAAA and CNAME records can be proxied, not TXT');
    expect(checkValues({ type: 'TXT', name: 'example.com', content: 'x', ttl: 1, priority: 5 })).toBe('record.priority: only MX records have a priority, not TXT');
    expect(checkValues({ type: 'TXT', name: 'example.com', content: '', ttl: 1 })).toBe('record.content: a TXT record needs 1 to 2048 characters, got 0');
    expect(checkValues({ ...a, ttl: 30 })).toBe('record.ttl: expected 1 (auto) or 60 to 86400 seconds, got 30');
    expect(checkValues({ ...a, ttl: 86_401 })).toBe('record.ttl: expected 1 (auto) or 60 to 86400 seconds, got 86401');
    expect(checkValues({ ...a, ttl: 300, proxied: true })).toMatch(/^record\.ttl: a proxied record's TTL is always 1 \(auto\)/);
    expect(checkValues({ ...a, type: 'SRV' })).toBe('record.type: cloudflare_dns creates and changes A, AAAA, CNAME, MX, TXT records, not SRV');
  });

  it('refuses a record argument of the wrong shape, naming the field', () => {
    expect(readRecordArg('www')).toMatch(/^record: expected an object/);
    expect(readRecordArg({ ttl: '300' })).toBe('record.ttl: expected an integer, got "300"');
    expect(readRecordArg({ proxied: 'yes' })).toBe('record.proxied: expected true or false, got "yes"');
    expect(readRecordArg({ id: 'abc' })).toBe('record.id: expected a Cloudflare record id (32 hex digits), got "abc"');
    expect(readRecordArg({ host: 'www' })).toBe('record.host: unknown field (expected id, type, name, content, ttl, proxied, priority, comment)');
    expect(readRecordArg({ type: 'cname', name: 'www' })).toEqual({ type: 'CNAME', name: 'www' });
  });

  it('shows a record in one line', () => {
    expect(recordText(a)).toBe('A www.example.com → 192.0.2.10 (ttl auto, DNS only)');
    expect(recordText({ type: 'MX', name: 'example.com', content: 'mail.example.com', ttl: 300, priority: 10, comment: 'primary' })).toBe('MX example.com → 10 mail.example.com (ttl 300 s, comment "primary")');
    expect(recordText({ type: 'TXT', name: 'example.com', content: 'v=spf1 -all', ttl: 1 })).toBe('TXT example.com → "v=spf1 -all" (ttl auto)');
  });
});
