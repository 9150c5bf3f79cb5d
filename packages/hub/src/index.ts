// The hub (transports, upstreams, catalog, policy, audit, topology) is built by the issue
// "Hub: one MCP endpoint for the whole network". Until then `pnpm start` serves this host
// through the edge agent directly (scripts/start.mjs).
export {};
