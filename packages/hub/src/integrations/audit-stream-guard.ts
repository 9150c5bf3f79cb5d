/**
 * query_logs against the Loki the audit trail ships to would let anyone read every user's
 * audit events (`{job="mcp-audit"}`), while get_audit_log lets only an admin read what other
 * users did. For non-admins each stream selector of such a query gets `job!="<audit job>"`
 * (every audit stream carries that label), which no regex or other matcher can undo; a query
 * this cannot rewrite with certainty is refused.
 */
import { HomelabError } from '@homelab-mcp/core';

/**
 * `logql` with `job!="<job>"` added to every stream selector. Selectors are the `{` outside
 * string literals (LogQL templates `{{...}}` only occur inside strings); a `#` comment or an
 * unterminated string makes the query refused rather than guessed.
 *
 * @example withoutAuditStream('{job=~".+"} |= "x"', 'mcp-audit') // '{job!="mcp-audit",job=~".+"} |= "x"'
 */
export function withoutAuditStream(logql: string, job: string): string {
  const refuse = (why: string) =>
    new HomelabError('FORBIDDEN', `query_logs: logql ${why}, and this Loki holds the audit trail, which only an admin reads through query_logs; use get_audit_log for your own audit events`);
  const matcher = `job!=${JSON.stringify(job)},`;
  let out = '';
  let selectors = 0;
  for (let i = 0; i < logql.length; i++) {
    const c = logql[i]!;
    if (c === '"' || c === '`' || c === "'") {
      let j = i + 1;
      while (j < logql.length && logql[j] !== c) j += c !== '`' && logql[j] === '\\' ? 2 : 1;
      if (j >= logql.length) throw refuse('has an unterminated string');
      out += logql.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '#') throw refuse('has a comment');
    out += c;
    if (c === '{') {
      out += matcher;
      selectors++;
    }
  }
  if (selectors === 0) throw refuse('has no {label="value"} stream selector');
  return out;
}

/** Refuses outright a query naming the audit job: its answer would be empty anyway. */
export function guardAuditQuery(logql: string, job: string): string {
  const rewritten = withoutAuditStream(logql, job);
  const named = new RegExp(`[{,]\\s*job\\s*=\\s*(["\`])${job.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\1`);
  if (named.test(logql))
    throw new HomelabError('FORBIDDEN', `query_logs: the audit stream (job="${job}") is readable only by an admin through query_logs; use get_audit_log for your own audit events`);
  return rewritten;
}
