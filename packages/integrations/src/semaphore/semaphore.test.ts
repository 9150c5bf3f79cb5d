import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequestReport } from '@homelab-mcp/core/http';
import { startFakeSemaphore, type FakeSemaphore } from '@homelab-mcp/testkit';
import { SemaphoreConfigSchema, semaphoreIntegration, type SemaphoreInstance } from './index.ts';

const TOKEN = 'semaphore-api-token-0123456789';
let sem: FakeSemaphore;
let inst: SemaphoreInstance;
const reports: HttpRequestReport[] = [];
const logs: string[] = [];
const log = { info: (_o: object, m: string) => void logs.push(m), warn: (_o: object, m: string) => void logs.push(m), error: (_o: object, m: string) => void logs.push(m) };
const setup = (over: Record<string, unknown> = {}) => semaphoreIntegration.setup(SemaphoreConfigSchema.parse({ url: sem.url, token: TOKEN, ...over }), { http: createHttpClient({ onRequest: (r) => reports.push(r) }), log });

beforeAll(async () => {
  sem = await startFakeSemaphore({ token: TOKEN, taskMs: 100 });
  inst = setup();
});
afterAll(async () => {
  await inst?.close?.();
  await sem?.stop();
});
afterEach(() => expect(sem.unknown()).toEqual([]));

const tool = (name: string, i = inst) => i.tools.find((t) => t.def.name === name)!;
const call = (name: string, args: Record<string, unknown> = {}, i = inst) => tool(name, i).call(args, { signal: new AbortController().signal });
const text = (r: { content: Array<{ text: string }> }) => r.content[0]!.text;

describe('semaphore (fake Semaphore UI)', () => {
  it('lists projects and templates with how each one\'s last task went', async () => {
    expect(text(await call('semaphore_list_projects'))).toBe('- 1 Homelab\n- 2 Web');
    const t = await call('semaphore_list_templates', { project: 'homelab' });
    expect(text(t)).toMatch(/^- 1 "Update servers" \(update\.yml\) in Homelab: never run\n- 2 "backup" \(fail\.yml\) in Homelab: last task 7 error 1 h ago$|^- 1 "Update servers" \(update\.yml\) in Homelab: never run\n- 2 "backup" \(fail\.yml\) in Homelab: last task 7 error 2 h ago$/);
    expect(text(await call('semaphore_list_templates', { project: 'nope' }))).toBe('project: no project "nope" (there are 1 Homelab, 2 Web)');
  });

  it('semaphore_task_status without an id shows the last failed task and the end of its output', async () => {
    const r = await call('semaphore_task_status');
    expect(text(r)).toMatch(/^task 7 \(template 2, project 1\): error, ended \d h ago\noutput \(last 3 of 3 lines\):\nPLAY \[all\] \*\*\*\*\nTASK \[borg create\] \*\*\*\*\nfatal: \[nas\]: FAILED! => \{"msg": "repository locked"\}$/);
  });

  it('run: previewed with the template, playbook and options; started with exactly those; followed to its end', async () => {
    const run = tool('semaphore_run_task');
    expect(await run.preview!({ template: 'update servers', dry_run: true, limit: 'web,!db' }, { signal: new AbortController().signal })).toEqual({ action: 'Run Semaphore template 1 "Update servers" (playbook update.yml) in project Homelab, dry run (--check), --limit web,!db', where: ['semaphore/Homelab'] });
    const r = await call('semaphore_run_task', { template: 'Update servers', dry_run: true, limit: 'web,!db' });
    expect(r.isError).toBeFalsy();
    const id = (r.structuredContent as { id: number }).id;
    expect(sem.requests().find((q) => q.method === 'POST')?.body).toBe(JSON.stringify({ template_id: 1, debug: false, dry_run: true, diff: false, playbook: '', environment: '{}', limit: 'web,!db', git_branch: '' }));
    await expect.poll(async () => (await call('semaphore_task_status', { task: id })).structuredContent).toMatchObject({ status: 'success', dryRun: true });
    expect((await call('semaphore_run_task', { template: 'nope' })).content[0]!.text).toMatch(/^template: no template "nope" \(there are 1 "Update servers", 2 "backup", 3 "Deploy website"\)/);
    expect((await call('semaphore_run_task', { template: 1, limit: 'web; rm -rf /' })).isError).toBe(true);
  });

  it('health: a template whose last task failed is a problem; a wrong token is named by its key', async () => {
    const h = await inst.health!(new AbortController().signal);
    expect(h).toMatchObject({ ok: false, detail: expect.stringMatching(/^2 projects, 3 templates/), problems: [expect.stringMatching(/^Semaphore: last task of 'backup' failed \d h ago$/)] });
    const wrong = setup({ token: 'not-the-token-123' });
    try {
      expect(text(await call('semaphore_list_projects', {}, wrong))).toBe(`Semaphore at ${sem.host} rejected the API token (integrations.semaphore.token)`);
      expect((await wrong.health!(new AbortController().signal)).detail).toBe(`Semaphore at ${sem.host} rejected the credential (integrations.semaphore.token)`);
      expect(JSON.stringify([logs, reports])).not.toContain('not-the-token-123');
    } finally {
      await wrong.close?.();
    }
  });
});
