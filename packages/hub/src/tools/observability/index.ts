/** The hub's own observability tools, over the nodes, the topology and the integrations. */
import type { CatalogTool } from '../../catalog/types.ts';
import type { ObservabilityDeps } from './deps.ts';
import { containerLogsTool, resourceUsageTool, serviceStatusTool } from './node-tools.ts';
import { runDiagnosticTool } from './run-diagnostic.ts';
import { serviceHealthTool } from './service-health.ts';

export type { ObservabilityDeps } from './deps.ts';

export function observabilityTools(deps: ObservabilityDeps): CatalogTool[] {
  return [serviceHealthTool(deps), runDiagnosticTool(deps), resourceUsageTool(deps), serviceStatusTool(deps), containerLogsTool(deps)];
}
