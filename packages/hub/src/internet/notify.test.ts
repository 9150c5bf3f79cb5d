import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '@homelab-mcp/core/http';
import { InternetConfigSchema, NotifyConfigSchema } from './config.ts';
import type { InternetDeps } from './deps.ts';
import { createNotifier, ntfyMessage } from './notify.ts';

function deps(sent: HttpRequest[], notify: object | null = {}): InternetDeps {
  const config = InternetConfigSchema.parse({ ntfy: { url: 'http://127.0.0.1:1', topic: 'homelab' } });
  return {
    config: () => config,
    notify: () => (notify ? NotifyConfigSchema.parse(notify) : undefined),
    http: {
      request: async (r) => (sent.push(r), { status: 200, headers: {}, body: new Uint8Array(), truncated: false, text: () => '{"id":"x"}', json: <T>() => ({ id: 'x' }) as T }),
      with: () => deps(sent).http,
    },
    onHttpRequest: () => undefined,
    dataDir: '/nonexistent',
    hubListeners: () => [],
    piholeResolvers: () => ({}),
    log: { info: () => undefined, warn: () => undefined },
  };
}

describe('createNotifier', () => {
  it('sends a notice once per kind and subject per minIntervalSeconds', () => {
    const sent: HttpRequest[] = [];
    let t = 1_000_000;
    const n = createNotifier(deps(sent, { minIntervalSeconds: 60 }), () => t);
    n.down('node_down', 'pi1', 'connection refused');
    n.down('node_down', 'pi1', 'connection refused');
    n.down('node_down', 'nas');
    n.down('service_down', 'pi1');
    expect(sent.map((r) => JSON.parse(String(r.body)).title)).toEqual(['Node down: pi1', 'Node down: nas', 'Service down: pi1']);
    t += 59_999;
    n.down('node_down', 'pi1');
    expect(sent).toHaveLength(3);
    t += 1;
    n.down('node_down', 'pi1');
    expect(sent).toHaveLength(4);
    expect(JSON.parse(String(sent[0]!.body))).toEqual({ topic: 'homelab', title: 'Node down: pi1', message: 'pi1 is down: connection refused.', priority: 4, tags: ['warning'] });
  });

  it('sends nothing without notify:, or for a kind not in notify.on', () => {
    const sent: HttpRequest[] = [];
    createNotifier(deps(sent, null)).down('node_down', 'pi1');
    createNotifier(deps(sent, { on: ['node_down'] })).approvalPending({ user: 'ann', tool: 'git_pull', action: 'clone x' });
    expect(sent).toEqual([]);
  });

  it('masks secrets of the action in an approval notice (it leaves the LAN)', () => {
    const sent: HttpRequest[] = [];
    createNotifier(deps(sent)).approvalPending({ user: 'ann', tool: 'run_command', action: 'run on nas: curl https://admin:hunter22@10.0.0.5/x' });
    expect(JSON.parse(String(sent[0]!.body)).message).toBe('ann asks to run on nas: curl https://admin:[REDACTED]@10.0.0.5/x. Answer in the MCP client.');
  });
});

describe('ntfyMessage', () => {
  it('maps priority names, splits tags, checks click', () => {
    expect(ntfyMessage({ message: 'm', priority: 'urgent', tags: 'a, b' }, 't')).toEqual({ topic: 't', message: 'm', priority: 5, tags: ['a', 'b'] });
    expect(ntfyMessage({ message: 'm', click: 'javascript:alert(1)' }, 't')).toMatch(/argument "click"/);
    expect(ntfyMessage({ message: 'm', click: `https://example.com/${'a'.repeat(3000)}` }, 't')).toMatch(/argument "click": .*at most 2048/);
    expect(ntfyMessage({ message: '' }, 't')).toMatch(/argument "message"/);
  });
});
