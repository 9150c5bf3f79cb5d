import { describe, expect, it } from 'vitest';
import { createLogger } from '@homelab-mcp/core/log';
import { edgeLoggerFor } from './fields-first-log.ts';

function hubLogger() {
  const lines: string[] = [];
  const log = createLogger({ name: 'hub', level: 'debug', destination: { write: (l: string) => void lines.push(l) } });
  return { log, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('edgeLoggerFor', () => {
  it('writes the edge\'s lines as the hub\'s own: level words, ISO time, name, bindings, secrets redacted', () => {
    const hub = hubLogger();
    const log = edgeLoggerFor(hub.log, { level: 'warn', bindings: { node: 'local' } });
    log.warn('capability not active', { capability: 'gpio', reason: 'no GPIO chips' });
    log.child({ capability: 'docker' }).error('request failed', { token: 's3cret' });
    expect(hub.records()).toEqual([
      expect.objectContaining({ level: 'warn', name: 'hub', node: 'local', capability: 'gpio', reason: 'no GPIO chips', msg: 'capability not active', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) }),
      expect.objectContaining({ level: 'error', name: 'hub', node: 'local', capability: 'docker', token: '[REDACTED]', msg: 'request failed' }),
    ]);
  });

  it('keeps the edge\'s own level: below it nothing is written, even when the hub logs more', () => {
    const hub = hubLogger();
    const log = edgeLoggerFor(hub.log, { level: 'warn' });
    log.debug('probe');
    log.info('tool call', { tool: 'get_status' });
    expect(hub.records()).toEqual([]);
    edgeLoggerFor(hub.log, { level: 'debug' }).debug('probe', { capability: 'smart' });
    expect(hub.records()).toEqual([expect.objectContaining({ level: 'debug', msg: 'probe', capability: 'smart' })]);
  });
});
