/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a client whose
 * `client_id` is an https URL publishes its metadata there. The hub fetches it with the same
 * server-side request forgery guard as http_fetch (every resolved address checked, the
 * connection pinned to them: no second lookup), follows no redirect, reads at most 8 KiB within
 * 5 s, and takes it only when its `client_id` is that URL. Private, loopback and link-local
 * addresses are refused unless the hub's issuer is itself loopback (tests, a hub for this
 * machine only), and then only loopback is added.
 */
import * as z from 'zod';
import { checkDestination, parseAllowHosts } from '../internet/destination.ts';
import { open, readCapped } from '../internet/fetch.ts';

export const MAX_CLIENT_DOCUMENT_BYTES = 8 * 1024;
const TIMEOUT_MS = 5_000;

export const clientDocumentSchema = z.object({
  client_id: z.string().max(512),
  client_name: z.string().max(100).optional(),
  redirect_uris: z.array(z.string().min(1).max(512)).min(1).max(5),
  token_endpoint_auth_method: z.literal('none').optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).max(2).optional(),
  response_types: z.array(z.literal('code')).max(1).optional(),
});
export type ClientDocument = z.infer<typeof clientDocumentSchema>;

/**
 * Whether `clientId` is a URL-form client id, and what is wrong with it: https (http only when
 * `loopbackOk` and the host is loopback), a path other than `/`, no fragment, no credentials.
 * Undefined when it is not URL-shaped at all (a registered client's id).
 */
export function clientIdUrlProblem(clientId: string, loopbackOk: boolean): { url?: URL; problem?: string } | undefined {
  if (!/^https?:\/\//i.test(clientId)) return undefined;
  if (clientId.length > 512) return { problem: 'is longer than 512 characters' };
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return { problem: 'is not a URL' };
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(loopbackOk && loopback && u.protocol === 'http:')) return { problem: 'must be an https URL' };
  if (u.pathname === '/' || u.hash || clientId.includes('#') || u.username || u.password) return { problem: 'must have a path, and no fragment or credentials' };
  if (u.href !== clientId) return { problem: 'must be written in its normal form' };
  return { url: u };
}

/** The document at `url`, checked against the schema and its own URL; throws saying why not. */
export async function fetchClientDocument(url: URL, loopbackOk: boolean): Promise<ClientDocument> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const allow = loopbackOk ? parseAllowHosts(['127.0.0.0/8', '::1']) : [];
  const addresses = await checkDestination(url, { allow, hubListeners: [] }, signal);
  const res = await open({ url, method: 'GET', headers: { accept: 'application/json' } }, addresses, signal);
  if (res.statusCode !== 200) {
    res.destroy();
    throw new Error(`answered ${res.statusCode ?? 0} (redirects are not followed)`);
  }
  const read = await readCapped(res, MAX_CLIENT_DOCUMENT_BYTES);
  if (read.cut) throw new Error(`the document is larger than ${MAX_CLIENT_DOCUMENT_BYTES} bytes`);
  if (read.undecodable) throw new Error(`the document has an unknown content-encoding ${read.undecodable.slice(0, 50)}`);
  let json: unknown;
  try {
    json = JSON.parse(read.bytes.toString('utf8'));
  } catch {
    throw new Error('the document is not JSON');
  }
  const parsed = clientDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`the document does not fit: ${i ? `${i.path.join('.') || 'document'}: ${i.message}` : 'expected an object'}`);
  }
  if (parsed.data.client_id !== url.href) throw new Error('the document names another client_id than its own URL');
  return parsed.data;
}
