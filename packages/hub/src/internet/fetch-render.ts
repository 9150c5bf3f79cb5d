/**
 * What http_fetch makes of a body: HTML as Markdown (node-html-markdown, which parses the page
 * rather than pattern-matching it), JSON pretty-printed, other text as it is, binary described
 * (type, size, sha256) and never dumped. The text is cut at the caller's byte cap, and the cut
 * is said in the text itself.
 */
import { createHash } from 'node:crypto';
import { NodeHtmlMarkdown } from 'node-html-markdown';

/** How a body was rendered. */
export type BodyFormat = 'markdown' | 'json' | 'text' | 'binary' | 'empty';

export interface RenderedBody {
  format: BodyFormat;
  text: string;
  /** Whether the text shown is less than the body (read cut, or the rendered text cut). */
  truncated: boolean;
  /** The page's <title>, for HTML. */
  title?: string;
  /** sha256 of the bytes read, for binary bodies. */
  sha256?: string;
}

/** The media type (lower case, no parameters) and charset of a Content-Type header. */
export function mediaType(contentType: string | undefined): { type: string; charset?: string } {
  const [type = '', ...params] = (contentType ?? '').split(';').map((p) => p.trim());
  const charset = params.map((p) => /^charset\s*=\s*"?([^";]+)"?$/i.exec(p)?.[1]).find(Boolean);
  return { type: type.toLowerCase(), ...(charset ? { charset: charset.toLowerCase() } : {}) };
}

const isHtml = (t: string) => t === 'text/html' || t === 'application/xhtml+xml';
const isJson = (t: string) => t === 'application/json' || t === 'text/json' || t.endsWith('+json');
const isText = (t: string) =>
  t.startsWith('text/') ||
  t.endsWith('+xml') ||
  /^application\/(?:xml|javascript|ecmascript|x-javascript|x-yaml|yaml|toml|x-toml|x-sh|x-shellscript|sql|graphql|x-www-form-urlencoded|x-ndjson|jsonl|x-pem-file)$/.test(t);

/** Whether a body read as `type` is HTML: the part of the page to read is larger (markup shrinks). */
export const rendersAsHtml = (contentType: string | undefined) => isHtml(mediaType(contentType).type);

function decode(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    // An unknown charset label: UTF-8 is what most such pages really are.
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Text without a type: UTF-8 that decodes cleanly and holds no NUL or other C0 controls but whitespace. */
function looksLikeText(bytes: Buffer): boolean {
  const sample = bytes.subarray(0, 8192);
  if (/[\u0000-\u0008\u000e-\u001a\u001c-\u001f]/.test(sample.toString('latin1'))) return false;
  try {
    // A multi-byte character cut at the sample's end is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, sample.length - (sample.length === bytes.length ? 0 : 3)));
    return true;
  } catch {
    return false;
  }
}

/** `text` cut to at most `maxBytes` of UTF-8, at a character boundary. */
export function cutUtf8(text: string, maxBytes: number): { text: string; cut: boolean } {
  if (Buffer.byteLength(text) <= maxBytes) return { text, cut: false };
  let out = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  // A character split by the cut decodes as U+FFFD: drop it.
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return { text: out, cut: true };
}

/** Bytes as a person reads them: `1.5 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

export interface RenderInput {
  bytes: Buffer;
  contentType: string | undefined;
  /** Whether the body went on past what was read. */
  readCut: boolean;
  /** The body's declared length (Content-Length), when the server gave one. */
  declared?: number;
  /** The cap on the text returned, in UTF-8 bytes. */
  maxBytes: number;
}

/**
 * The body as the model reads it.
 *
 * @example renderBody({ bytes: Buffer.from('{"a":1}'), contentType: 'application/json', readCut: false, maxBytes: 1000 }).text // '{\n  "a": 1\n}'
 */
export function renderBody(i: RenderInput): RenderedBody {
  const { type, charset } = mediaType(i.contentType);
  const of = i.declared !== undefined ? ` of ${formatBytes(i.declared)}` : '';
  const readNote = i.readCut ? `[cut: only the first ${formatBytes(i.bytes.length)}${of} were read]` : '';
  if (i.bytes.length === 0 && !i.readCut) return { format: 'empty', text: '', truncated: false };
  const textual = isHtml(type) || isJson(type) || isText(type) || (!type && looksLikeText(i.bytes));
  if (!textual) {
    const sha256 = createHash('sha256').update(i.bytes).digest('hex');
    const what = `${type || 'content of no declared type'}, ${formatBytes(i.bytes.length)} read${i.readCut ? ` (cut: the body is longer${of ? `, ${formatBytes(i.declared!)}` : ''})` : ''}`;
    return { format: 'binary', text: `[binary body not shown: ${what}; sha256 of what was read: ${sha256}]`, truncated: i.readCut, sha256 };
  }
  const raw = decode(i.bytes, charset);
  let format: BodyFormat = 'text';
  let text = raw;
  let title: string | undefined;
  if (isHtml(type)) {
    format = 'markdown';
    title = /<title[^>]*>([^<]{0,300})/i.exec(raw)?.[1]?.trim().replace(/\s+/g, ' ');
    text = NodeHtmlMarkdown.translate(raw, { ignore: ['script', 'style', 'noscript', 'template', 'svg', 'head'], maxConsecutiveNewlines: 2 });
  } else if (isJson(type) && !i.readCut) {
    try {
      text = JSON.stringify(JSON.parse(raw), null, 2);
      format = 'json';
    } catch {
      // Not JSON after all: shown as it came.
    }
  }
  const cut = cutUtf8(text, i.maxBytes);
  const notes = [
    ...(cut.cut ? [`[cut: the ${format === 'markdown' ? 'Markdown' : format === 'json' ? 'JSON' : 'text'} is ${formatBytes(Buffer.byteLength(text))}, shown up to max_bytes (${formatBytes(i.maxBytes)})]`] : []),
    ...(readNote ? [readNote] : []),
  ];
  return { format, text: notes.length ? `${cut.text}\n\n${notes.join('\n')}` : cut.text, truncated: cut.cut || i.readCut, ...(title ? { title } : {}) };
}
