/**
 * Which keys hold secrets: shared by the logger and the audit journal (hub) and by get_env's
 * masking (edge). Its own module, free of pino, so the edge bundle can use it without the logger.
 */

/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]';

const EXACT = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'passwd',
  'passphrase',
  'privatekey',
  'credentials',
  'pat',
]);
// Compared after lower-casing and dropping `-`/`_`: `DB_PASS`, `MYSQL_PWD`, `AWS_SECRET_ACCESS_KEY`.
// `BORG_PASSPHRASE`, `TS_AUTHKEY` (Tailscale), `WG_PRIVKEY` (WireGuard) as homelabs spell them.
const SUFFIXES = ['token', 'secret', 'password', 'passwd', 'passphrase', 'apikey', 'authkey', 'privkey', 'pass', 'pwd', 'accesskey', 'secretkey', 'signingkey', 'encryptionkey', 'masterkey', 'cookie', 'creds', 'credential', 'credentials'];
// Secret-bearing words inside a longer name: `TOKEN_FILE_CONTENT`, `GITHUB_TOKEN_VALUE`.
const INFIXES = /(?:^|[-_])(?:token|secret|password|passwd)(?:[-_][a-z0-9]{1,16}){0,2}[-_](?:content|contents|value|data|b64|base64)$/i;
// `*_KEY`, `*_PAT` and `*_PW` as environment variables spell them (`STRIPE_KEY`, `GITHUB_PAT`, `ROOT_PW`): the
// separator is what tells them from `monkey` or `compat`. Keys that name a field rather than
// hold a secret are left alone.
const SEPARATED = /[-_](?:key|pat|auth|salt|pin|pw)$/i;
// Bare words that name a secret when spelled as an environment variable (`KEY=…`, `AUTH=…`,
// `PIN=…`): in lower case they are field names (`{ key: 'HOME' }` of get_env, `{ key, value }`
// pairs, package.json's `private`), which redacting would make unreadable.
const ENV_WORDS = new Set(['KEY', 'AUTH', 'PIN', 'PRIVATE', 'SALT', 'CREDS']);
const NOT_SECRET_KEY = /(?:^|[-_])(?:public|sort|primary|partition|foreign|cache|idempotency|group|order|hash|range|row|lookup|map|host|ssh_host|dedup|routing)[-_]key$/i;
const decisions = new Map<string, boolean>();

/**
 * True for keys whose value is a secret, compared without case, `-` or `_`:
 * `token`, `*Token` (`accessToken`, `haToken`, `edge_token`), `*Secret`, `*Password`, `*Pass`
 * (`DB_PASS`), `*Pwd` (`MYSQL_PWD`), `*ApiKey` (`x-api-key`), `*AccessKey`/`*SecretKey`
 * (`AWS_SECRET_ACCESS_KEY`), `*_KEY` and `*_PAT` with a separator (`STRIPE_KEY`, `GITHUB_PAT`;
 * not `public_key`, `sort_key`), `authorization`, `proxy-authorization`, `cookie`, `set-cookie`,
 * `passwd`, `passphrase`, `privateKey`, `credentials`; `*Passphrase` (`BORG_PASSPHRASE`), `*AuthKey`
 * (`TS_AUTHKEY`), `*PrivKey` (`WG_PRIVKEY`), `*_PW` (`ROOT_PW`); `*Passwd` (`MQTT_PASSWD`), `*Cookie`
 * (`SESSION_COOKIE`), `*Creds` (`MY_CREDS`), `*_AUTH`, `*_SALT`, `*_PIN` with a separator
 * (`SMTP_AUTH`, `SIGNING_SALT`, `SIM_PIN`); `TOKEN_FILE_CONTENT`-like names (a secret word then
 * `_CONTENT`/`_VALUE`/`_DATA`/`_B64`); and, only in upper case as environment variables spell
 * them, `KEY`, `AUTH`, `PIN`, `PRIVATE`, `SALT`, `CREDS`. `maxTokens`, `tokenEnv`, `compass`,
 * `bypass`, `author`, `keyboard`, `pinned`, `spin`, `basalt`, `PWD`, `OLDPWD`, and lower-case
 * `key` or `auth` (field names) are not secrets.
 */
export function isSecretKey(key: string): boolean {
  let d = decisions.get(key);
  if (d === undefined) {
    const k = key.toLowerCase().replace(/[-_]/g, '');
    d =
      EXACT.has(k) ||
      ENV_WORDS.has(key) ||
      INFIXES.test(key) ||
      (SUFFIXES.some((s) => k.endsWith(s)) && !NOT_PASS.test(k)) ||
      (SEPARATED.test(key) && !NOT_SECRET_KEY.test(key));
    // Keys of log objects are a small fixed set; the cap only guards against keys made of data.
    if (decisions.size < 4096) decisions.set(key, d);
  }
  return d;
}

// Words that end in `pass` or `pwd` without being a password: `PWD`/`OLDPWD` are the shell's
// working directories, in every environment and many commands.
const NOT_PASS = /(?:compass|bypass|overpass|underpass|trespass|surpass|encompass|subpass|multipass|firstpass|onepass|singlepass|^pwd|^oldpwd)$/;
