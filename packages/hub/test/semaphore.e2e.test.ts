/**
 * The Semaphore integration through the bundled hub, with an SDK client, against the fake
 * Semaphore UI of the testkit: a task run is held by the gate with the template and playbook
 * named, runs after approval with exactly the options previewed, and is audited without the
 * token.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, readJournal, resultText, startFakeSemaphore, startHubProcess } from '@homelab-mcp/testkit';

const TOKEN = 'semaphore-hub-admin-token-0123456789';
const SEM_TOKEN = 'semaphore-api-secret-0123456789';
type Result = { content: Array<{ type: string; text: string }>; structuredContent?: Record<string, any>; isError?: boolean };

describe('Semaphore through the hub', () => {
  it('a template run held with its named preview, run after approval, followed, audited without the token', { timeout: 120_000 }, async () => {
    await using sem = await startFakeSemaphore({ token: SEM_TOKEN, taskMs: 100 });
    await using hub = await startHubProcess({
      config: { auth: { tokens: [{ user: 'ann', role: 'admin', token: TOKEN }] }, local: { enabled: false }, integrations: { semaphore: { url: sem.url, token: '${SEM_TOKEN}' } } },
      env: { SEM_TOKEN },
    });
    await using client = await connectClient(hub.url, TOKEN, 'legacy');
    const held = (await client.callTool({ name: 'semaphore_run_task', arguments: { template: 'Deploy website', diff: true } })) as Result;
    expect(held.structuredContent).toMatchObject({ status: 'approval_required', preview: { action: 'Run Semaphore template 3 "Deploy website" (playbook site.yml) in project Web, --diff', where: ['semaphore/Web'] } });
    expect(sem.requests().some((r) => r.method === 'POST')).toBe(false);
    await client.callTool({ name: 'approve_writes', arguments: {} });
    const started = (await client.callTool({ name: 'semaphore_run_task', arguments: { template: 'Deploy website', diff: true } })) as Result;
    expect(resultText(started)).toMatch(/^started task \d+ of "Deploy website" \(site\.yml\) in Web: (waiting|running)/);
    const id = started.structuredContent!.id;
    await expect.poll(async () => ((await client.callTool({ name: 'semaphore_task_status', arguments: { task: id } })) as Result).structuredContent!.status).toBe('success');
    const health = (await client.callTool({ name: 'service_health', arguments: {} })) as Result;
    expect(health.structuredContent!.items.find((i: { name: string }) => i.name === 'Semaphore')).toMatchObject({ healthy: false, detail: expect.stringMatching(/^2 projects, 3 templates; Semaphore: last task of 'backup' failed/) });
    const events = readJournal(join(hub.dir, 'data'));
    expect(events.filter((e) => e.kind === 'http_request' && e.detail.upstream === 'semaphore').map((e) => e.detail.url)).toContain(`${sem.url}/api/project/2/tasks`);
    expect(JSON.stringify(events)).not.toContain(SEM_TOKEN);
    expect(sem.unknown()).toEqual([]);
  });
});
