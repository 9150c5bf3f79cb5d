/**
 * What the Ansible tools never show: vault values (the ciphertext too: it is the secret at rest,
 * and a weak vault password falls to it) and the values of variables named like secrets
 * (`*_password`, `*_token`, `api_key`, ... as core/secret-keys.ts decides), in inventories,
 * playbooks and run output. A value that is only a Jinja reference (`"{{ vault_db_password }}"`)
 * is shown: it names where the secret lives, not the secret.
 */
import { isSecretKey, REDACTED } from '@homelab-mcp/core/secret-keys';

export const VAULT_MASK = '[VAULT]';
const ONLY_TEMPLATE = /^\s*["']?\{\{[^{}]*\}\}["']?\s*$/;

/** Whether a variable of this name holds a secret (`db_password`, `ansible_become_pass`, `vault_*`). */
export function isSecretVar(name: string): boolean {
  return isSecretKey(name) || /(^|_)(pass|password|passwd|secret|token|vault)(_|$)/i.test(name) || /^vault_/i.test(name);
}

function isVault(v: unknown): boolean {
  if (typeof v === 'string') return v.trimStart().startsWith('$ANSIBLE_VAULT;');
  return !!v && typeof v === 'object' && !Array.isArray(v) && '__ansible_vault' in (v as Record<string, unknown>);
}

/**
 * A copy of inventory variables with vault values and secret-named values masked, recursively.
 *
 * @example maskVars({ db_password: 'x', port: 5432 }) // { db_password: '[REDACTED]', port: 5432 }
 */
export function maskVars(v: unknown, depth = 0): unknown {
  if (depth > 32) return '[…]';
  if (isVault(v)) return VAULT_MASK;
  if (Array.isArray(v)) return v.map((x) => maskVars(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = isVault(x) ? VAULT_MASK : isSecretVar(k) && x !== null && x !== '' && !(typeof x === 'string' && ONLY_TEMPLATE.test(x)) ? REDACTED : maskVars(x, depth + 1);
    }
    return out;
  }
  return v;
}

/** Every plain secret value in inventory variables (secret-named strings), to cut out of run output. */
export function secretValuesOf(v: unknown, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (depth > 32 || out.size > 1000) return out;
  if (Array.isArray(v)) for (const x of v) secretValuesOf(x, out, depth + 1);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (isSecretVar(k) && (typeof x === 'string' || typeof x === 'number') && String(x).length >= 4 && !ONLY_TEMPLATE.test(String(x))) out.add(String(x));
      else secretValuesOf(x, out, depth + 1);
    }
  }
  return out;
}

/**
 * YAML text (a playbook, a vars file) with vault blocks and secret-named values masked, line by
 * line, so that what is shown keeps its layout and line numbers.
 *
 * @example maskYamlText('db_password: hunter2\nport: 1') // 'db_password: [REDACTED]\nport: 1'
 */
export function maskYamlText(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let blockIndent = -1;
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    if (blockIndent >= 0) {
      // Inside a `!vault |` block: its lines are more indented than its key (or blank).
      if (line.trim() === '' || indent > blockIndent) {
        out.push(line.trim() === '' ? line : `${' '.repeat(indent)}${VAULT_MASK}`);
        continue;
      }
      blockIndent = -1;
    }
    const m = /^(\s*(?:-\s+)?)(["']?)([A-Za-z0-9_.-]+)\2(\s*:\s*)(.*)$/.exec(line);
    if (!m) {
      out.push(line.includes('$ANSIBLE_VAULT;') ? line.replace(/\$ANSIBLE_VAULT;.*/, VAULT_MASK) : line);
      continue;
    }
    const [, lead = '', q = '', key = '', sep = '', value = ''] = m;
    if (/^!vault\b/.test(value)) {
      out.push(`${lead}${q}${key}${q}${sep}${VAULT_MASK}`);
      blockIndent = lead.length;
      continue;
    }
    if (value.includes('$ANSIBLE_VAULT;')) {
      out.push(`${lead}${q}${key}${q}${sep}${VAULT_MASK}`);
      continue;
    }
    if (isSecretVar(key) && value.trim() !== '' && !ONLY_TEMPLATE.test(value) && !/^[|>]/.test(value.trim())) {
      const comment = /\s+#.*$/.exec(value)?.[0] ?? '';
      out.push(`${lead}${q}${key}${q}${sep}${REDACTED}${comment}`);
      continue;
    }
    if (isSecretVar(key) && /^[|>]/.test(value.trim())) {
      // A block scalar holding a secret: mask its lines too.
      out.push(`${lead}${q}${key}${q}${sep}${REDACTED}`);
      blockIndent = lead.length;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * The forms a secret value takes in text, longest first: as is, trimmed, and JSON-escaped (a
 * value with a quote or a newline is written escaped in a JSON answer). Values under 4
 * characters are left out: replacing every `ab` would make the text unreadable and hide nothing.
 */
export function secretForms(values: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of values) {
    if (v.length < 4) continue;
    set.add(v);
    const escaped = JSON.stringify(v).slice(1, -1);
    if (escaped !== v) set.add(escaped);
    const trimmed = v.trim();
    if (trimmed.length >= 4) set.add(trimmed);
  }
  return [...set].sort((a, b) => b.length - a.length);
}

/** `text` with every form of every value of `secrets` ({@link secretForms}) replaced by [REDACTED]. */
export function scrubValues(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secretForms(secrets)) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}
