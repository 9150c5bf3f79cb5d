/**
 * A fake ntfy server for tests (ntfy is a third-party push service): a real HTTP server on
 * 127.0.0.1 answering the publish API as shared/reference/service-apis.md §9 documents it.
 *
 * - `POST|PUT /<topic>`: the body is the message; title, priority, tags and click from the
 *   `X-Title`/`Title`/`t`, `X-Priority`/`Priority`/`prio`/`p`, `X-Tags`/`Tags`/`ta`, `X-Click`/`Click`
 *   headers or the lowercase query parameters.
 * - `POST /` with a JSON body `{ topic, message, title?, priority?, tags?, click? }`.
 * - The answer is the message JSON (`id`, `time`, `expires`, `event: "message"`, `topic`, ...).
 * - With `token` set, publishing needs `Authorization: Bearer <token>`: else 401 `{"code":40101,...}`.
 *   A bad priority is 400 `{"code":40007,...}`.
 * - Anything else is a 404 `{"code":40401,"http":404,"error":"page not found"}`, recorded in
 *   `unknown()`: a test asserts it stays empty.
 *
 * @example
 * await using ntfy = await startFakeNtfy({ token: 'tk_abc' });
 * // hub.yaml: internet: { ntfy: { url: ntfy.url, topic: 'homelab', token: 'tk_abc' } }
 * expect(ntfy.messages()[0]).toMatchObject({ topic: 'homelab', title: 'Backup failed' });
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { serveLoopback } from './serve.ts';

export interface FakeNtfyMessage {
  id: string;
  time: number;
  topic: string;
  message: string;
  title?: string;
  priority?: number;
  tags?: string[];
  click?: string;
  /** How it was published: `json` (POST /) or `topic` (POST /<topic> with headers). */
  via: 'json' | 'topic';
  authorization?: string;
}

export interface FakeNtfyRequest {
  method: string;
  path: string;
  status: number;
}

export interface FakeNtfy extends AsyncDisposable {
  url: string;
  port: number;
  messages(): FakeNtfyMessage[];
  requests(): FakeNtfyRequest[];
  unknown(): FakeNtfyRequest[];
  stop(): Promise<void>;
}

const PRIORITIES: Record<string, number> = { min: 1, low: 2, default: 3, high: 4, max: 5, urgent: 5 };
const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

function parsePriority(v: unknown): number | undefined | 'bad' {
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= 5 ? v : 'bad';
  const s = String(v).toLowerCase();
  if (/^[1-5]$/.test(s)) return Number(s);
  return PRIORITIES[s] ?? 'bad';
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeNtfy(opts: { token?: string; port?: number } = {}): Promise<FakeNtfy> {
  const messages: FakeNtfyMessage[] = [];
  const requests: FakeNtfyRequest[] = [];
  const unknown: FakeNtfyRequest[] = [];
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: FakeNtfyRequest = { method: req.method ?? '', path: u.pathname, status: 0 };
    requests.push(rec);
    const send = (status: number, data: unknown) => {
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(data)}\n`);
    };
    const error = (status: number, code: number, error: string) => send(status, { code, http: status, error, link: 'https://ntfy.sh/docs/publish/' });
    const text = await body(req);
    const topicPath = u.pathname.slice(1);
    const isJson = req.method === 'POST' && u.pathname === '/';
    const isTopic = (req.method === 'POST' || req.method === 'PUT') && TOPIC.test(topicPath);
    if (!isJson && !isTopic) {
      unknown.push(rec);
      return error(404, 40401, 'page not found');
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return error(401, 40101, 'unauthorized');
    const h = (...names: string[]) => {
      for (const n of names) {
        const v = req.headers[n.toLowerCase()];
        if (typeof v === 'string') return v;
      }
      for (const n of names) {
        const v = u.searchParams.get(n.toLowerCase());
        if (v !== null) return v;
      }
      return undefined;
    };
    let m: Omit<FakeNtfyMessage, 'id' | 'time' | 'via'>;
    if (isJson) {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return error(400, 40001, 'invalid request: request body must be message JSON');
      }
      if (typeof j.topic !== 'string' || !TOPIC.test(j.topic)) return error(400, 40009, 'invalid request: topic invalid');
      const p = parsePriority(j.priority);
      if (p === 'bad') return error(400, 40007, 'invalid priority parameter');
      m = {
        topic: j.topic,
        message: typeof j.message === 'string' ? j.message : 'triggered',
        ...(typeof j.title === 'string' ? { title: j.title } : {}),
        ...(p !== undefined ? { priority: p } : {}),
        ...(Array.isArray(j.tags) ? { tags: j.tags.map(String) } : {}),
        ...(typeof j.click === 'string' ? { click: j.click } : {}),
      };
    } else {
      const p = parsePriority(h('X-Priority', 'Priority', 'prio', 'p'));
      if (p === 'bad') return error(400, 40007, 'invalid priority parameter');
      const title = h('X-Title', 'Title', 't');
      const tags = h('X-Tags', 'Tags', 'ta');
      const click = h('X-Click', 'Click');
      m = { topic: topicPath, message: text || 'triggered', ...(title ? { title } : {}), ...(p !== undefined ? { priority: p } : {}), ...(tags ? { tags: tags.split(',').map((t) => t.trim()) } : {}), ...(click ? { click } : {}) };
    }
    const time = Math.floor(Date.now() / 1000);
    const msg: FakeNtfyMessage = { id: randomBytes(6).toString('base64url'), time, ...m, via: isJson ? 'json' : 'topic', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    messages.push(msg);
    const { via: _via, authorization: _auth, ...shown } = msg;
    send(200, { ...shown, expires: time + 43_200, event: 'message' });
  });
  const { port, stop } = await serveLoopback(server, opts.port);
  return { url: `http://127.0.0.1:${port}`, port, messages: () => [...messages], requests: () => [...requests], unknown: () => [...unknown], stop, [Symbol.asyncDispose]: stop };
}
