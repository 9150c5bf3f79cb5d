import { isLegacyRequest } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { claimsModernEnvelope, clientAddress } from './http.ts';

const V = 'io.modelcontextprotocol/protocolVersion';

describe('claimsModernEnvelope', () => {
  it('holds only for bodies the SDK never classifies as 2025-era', async () => {
    const bodies: Array<[unknown, boolean]> = [
      [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', _meta: { [V]: '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: '2099-01-01' } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: 5 } } }, true],
      [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { _meta: { [V]: '2026-07-28' } } }, true],
      [{ id: 1, method: 'tools/list', params: { _meta: { [V]: '2026-07-28' } } }, true],
      [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', _meta: { [V]: '2026-07-28' } } }, false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, false],
      [{ jsonrpc: '2.0', id: 1, result: {}, method: 'x', params: { _meta: { [V]: '2026-07-28' } } }, false],
      [[{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { [V]: '2026-07-28' } } }], false],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: [V] } }, false],
      [null, false],
      ['text', false],
    ];
    for (const [body, claims] of bodies) {
      expect(claimsModernEnvelope(body), JSON.stringify(body)).toBe(claims);
      if (claims) {
        const req = new Request('http://127.0.0.1/mcp', { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28' }, body: JSON.stringify(body) });
        expect(await isLegacyRequest(req, body), JSON.stringify(body)).toBe(false);
      }
    }
  });
});

describe('clientAddress', () => {
  it('is the peer unless the peer is a trusted proxy; then the nearest forwarded address that is not one', () => {
    expect(clientAddress('10.0.0.5', '203.0.113.5', ['127.0.0.1'])).toBe('10.0.0.5');
    expect(clientAddress('127.0.0.1', '203.0.113.5', [])).toBe('127.0.0.1');
    expect(clientAddress('::ffff:127.0.0.1', '203.0.113.5', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', '1.2.3.4, 203.0.113.5, 127.0.0.1', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', 'made-up, 203.0.113.5', ['127.0.0.1'])).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', '203.0.113.5, not-an-ip', ['127.0.0.1'])).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', undefined, ['127.0.0.1'])).toBe('127.0.0.1');
    expect(clientAddress(undefined, '203.0.113.5', ['127.0.0.1'])).toBe('unknown');
  });
});
