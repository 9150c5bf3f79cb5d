import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError, SseError } from '@modelcontextprotocol/client';
import { describe, expect, it } from 'vitest';
import { boundedProtocolError, classifyFailure, embeddedProtocolError, MAX_UPSTREAM_ERROR_MESSAGE, redact, safeUrl, shortReason, STREAM_ENDED_CODE, UpstreamProtocolError } from './errors.ts';

function fetchFailed(code: string, message = `connect ${code} 10.0.0.5:8222`): TypeError {
  const socketErr = Object.assign(new Error(message), { code });
  return new TypeError('fetch failed', { cause: socketErr });
}

const http404 = new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'Error POSTing to endpoint: {"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}', {
  status: 404,
  text: '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}',
});

describe('classifyFailure', () => {
  it('reads a 404 as a lost session only on a session', () => {
    expect(classifyFailure(http404, { sessionful: true })).toBe('session');
    // Without a session, a 404 with a JSON-RPC body is the server's answer (the edge answers
    // an unknown 2026 method with 404).
    expect(classifyFailure(http404, { sessionful: false })).toBe('protocol');
    expect(classifyFailure(new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'x', { status: 404, text: 'Not Found' }), { sessionful: false })).toBe('other');
  });

  it('reads the SDK examples\' 400 "No valid session ID" as a lost session', () => {
    const e = new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'x', { status: 400, text: '{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: No valid session ID provided"}}' });
    expect(classifyFailure(e, { sessionful: true })).toBe('session');
  });

  it('reads the legacy SSE transport\'s POST failure', () => {
    expect(classifyFailure(new Error('Error POSTing to endpoint (HTTP 404): No transport found for sessionId'), { sessionful: true })).toBe('session');
    expect(classifyFailure(new Error('Error POSTing to endpoint (HTTP 401): no'), { sessionful: true })).toBe('auth');
  });

  it('sorts the rest', () => {
    expect(classifyFailure(new ProtocolError(-32602, 'bad params'), { sessionful: true })).toBe('protocol');
    expect(classifyFailure(new ProtocolError(STREAM_ENDED_CODE, 'cut'), { sessionful: false })).toBe('unavailable');
    expect(classifyFailure(fetchFailed('ECONNREFUSED'), { sessionful: false })).toBe('unavailable');
    expect(classifyFailure(new SdkError(SdkErrorCode.EraNegotiationFailed, 'Version negotiation probe failed: fetch failed', undefined, { cause: fetchFailed('EHOSTUNREACH') }), { sessionful: false })).toBe('unavailable');
    expect(classifyFailure(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out'), { sessionful: false })).toBe('timeout');
    expect(classifyFailure(new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed'), { sessionful: false })).toBe('unavailable');
    expect(classifyFailure(new SdkHttpError(SdkErrorCode.ClientHttpAuthentication, 'x', { status: 401 }), { sessionful: false })).toBe('auth');
    expect(classifyFailure(new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'x', { status: 502, text: 'Bad Gateway' }), { sessionful: false })).toBe('unavailable');
    expect(classifyFailure(new SseError(undefined, 'terminated', {} as never), { sessionful: true })).toBe('unavailable');
    expect(classifyFailure(new Error('something odd'), { sessionful: false })).toBe('other');
  });
});

describe('shortReason', () => {
  it('names socket failures in words, whatever wraps them', () => {
    expect(shortReason(fetchFailed('ECONNREFUSED'))).toBe('connection refused');
    expect(shortReason(new SdkError(SdkErrorCode.EraNegotiationFailed, 'Version negotiation probe failed: fetch failed', undefined, { cause: fetchFailed('ENOTFOUND') }))).toBe('host not found');
    expect(shortReason(new SdkHttpError(SdkErrorCode.ClientHttpAuthentication, 'x', { status: 401 }))).toBe('unauthorized (HTTP 401): check the token');
    expect(shortReason(http404)).toBe('Session not found');
    expect(shortReason(new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'x', { status: 503, text: '<html>...</html>' }))).toBe('HTTP 503');
  });

  it('says so when fetch refuses the port itself, rather than "fetch failed"', async () => {
    // Real: fetch refuses port 6000 before any connection (nothing is sent, nothing listens).
    const err = await fetch('http://127.0.0.1:6000/mcp').catch((e: unknown) => e);
    const wrapped = new SdkError(SdkErrorCode.EraNegotiationFailed, 'Version negotiation probe failed: fetch failed', undefined, { cause: err });
    expect(shortReason(wrapped)).toBe('fetch refuses this port (a "bad port" of the Fetch standard): serve it on another port');
  });

  it('never shows a secret or URL credentials, and stays short', () => {
    const token = 'abcdef0123456789';
    const err = new Error(`failed GET https://admin:hunter22@ha.lan:8123/api/mcp with Authorization: Bearer ${token} ${'x'.repeat(500)}`);
    const r = shortReason(err, [token]);
    expect(r).not.toContain(token);
    expect(r).not.toContain('hunter22');
    expect(r).toContain('https://***@ha.lan:8123/api/mcp');
    expect(r.length).toBeLessThanOrEqual(200);
  });
});

describe('helpers', () => {
  it('unwraps a JSON-RPC error from a non-2xx answer', () => {
    const e = embeddedProtocolError(http404);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e).toMatchObject({ code: -32001, message: 'Session not found' });
    expect(embeddedProtocolError(new Error('nope'))).toBeUndefined();
  });

  it('redacts and shows URLs safely', () => {
    expect(redact('token=abcd1234 and abc', ['abcd1234', 'abc'])).toBe('token=*** and abc');
    expect(safeUrl('http://u:p@host:1/mcp?key=s3cret&x=1')).toBe('http://host:1/mcp?key=***&x=***');
  });
});

describe('boundedProtocolError', () => {
  it("keeps an upstream's error whole when small, marked as the upstream's", () => {
    const e = boundedProtocolError(new ProtocolError(-32050, 'refused', { reason: 'x' }));
    expect(e).toBeInstanceOf(UpstreamProtocolError);
    expect(e).toMatchObject({ code: -32050, message: 'refused', data: { reason: 'x' }, fromUpstream: true });
  });

  it('cuts a huge message and drops huge data', () => {
    const e = boundedProtocolError(new ProtocolError(-32051, 'x'.repeat(100_000), { blob: 'y'.repeat(100_000) })) as ProtocolError;
    expect(e.message).toHaveLength(MAX_UPSTREAM_ERROR_MESSAGE + 1);
    expect(e.data).toBeUndefined();
  });

  it("removes the hub's secrets for the upstream from the message and the data", () => {
    const secret = 'tok-0123456789abcdef';
    const e = boundedProtocolError(new ProtocolError(-32050, `bad token ${secret}`, { headers: { authorization: `Bearer ${secret}` }, [secret]: 1 }), [secret]) as ProtocolError;
    expect(JSON.stringify({ m: e.message, d: e.data })).not.toContain(secret);
    expect(e.message).toContain('bad token ***');
    expect(e.data).toEqual({ headers: { authorization: 'Bearer ***' }, '***': 1 });
  });

  it("names the upstream in front of each message of a URL elicitation error (-32042), as for its elicitation requests", () => {
    const e = boundedProtocolError(new ProtocolError(-32042, 'sign in', { elicitations: [{ mode: 'url', url: 'https://x.example', message: 'The hub needs you' }] }), [], 'evil') as ProtocolError;
    expect(e.data).toEqual({ elicitations: [{ mode: 'url', url: 'https://x.example', message: '[evil] The hub needs you' }] });
  });

  it('leaves other errors alone', () => {
    const other = new Error('boom');
    expect(boundedProtocolError(other)).toBe(other);
  });
});

