import { describe, expect, it } from 'vitest';
import { guardAuditQuery, withoutAuditStream } from './audit-stream-guard.ts';

describe('withoutAuditStream', () => {
  it('adds job!="<job>" to every stream selector, not to braces inside strings', () => {
    expect(withoutAuditStream('{job=~".+"} |= "x"', 'mcp-audit')).toBe('{job!="mcp-audit",job=~".+"} |= "x"');
    expect(withoutAuditStream('{a="b"} | line_format "{{.a}}" |= `{`', 'mcp-audit')).toBe('{job!="mcp-audit",a="b"} | line_format "{{.a}}" |= `{`');
    expect(withoutAuditStream('sum(count_over_time({a="1"}[5m])) / sum(count_over_time({b="2"}[5m]))', 'j')).toBe('sum(count_over_time({job!="j",a="1"}[5m])) / sum(count_over_time({job!="j",b="2"}[5m]))');
    expect(withoutAuditStream('{a="q\\"{"}', 'j')).toBe('{job!="j",a="q\\"{"}');
  });
  it('refuses what it cannot rewrite with certainty, naming get_audit_log', () => {
    expect(() => withoutAuditStream('{a="b} |= "x"', 'j')).toThrow(/unterminated string.*get_audit_log/);
    expect(() => withoutAuditStream('{a="b"} # x', 'j')).toThrow(/comment/);
    expect(() => withoutAuditStream('rate(x[5m])', 'j')).toThrow(/no \{label="value"\} stream selector/);
  });
});

describe('guardAuditQuery', () => {
  it('refuses a query naming the audit job outright', () => {
    expect(() => guardAuditQuery('{job="mcp-audit"} |= "run_command"', 'mcp-audit')).toThrow(/only by an admin.*get_audit_log/);
    expect(() => guardAuditQuery('{ site="x", job = `mcp-audit` }', 'mcp-audit')).toThrow(/get_audit_log/);
    expect(guardAuditQuery('{job="nginx"}', 'mcp-audit')).toBe('{job!="mcp-audit",job="nginx"}');
  });
});
