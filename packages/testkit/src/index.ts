export { startEdgeProcess, deployedEdgeNodeFlags, EDGE_BUNDLE, type EdgeProcess, type StartEdgeOptions } from './edge-process.ts';
export { connectClient, resultText, type ClientOptions, type Era } from './mcp-client.ts';
export { isAlive } from './process.ts';
export { testEdgeEnv, scriptedEdgeEnv, toolContext, type ScriptedAnswer } from './edge-env.ts';
export { startHubProcess, HUB_BUNDLE, type HubProcess, type StartHubOptions } from './hub-process.ts';
export { startFakeLoki, type FakeLoki, type FakeLokiEntry, type FakeLokiOptions, type FakeLokiRequest } from './fake-loki.ts';
export { createFakeDocker, dockerFixture, type FakeDocker, type FakeDockerCall, type FakeDockerRule } from './fake-docker.ts';
export { startPrometheus, freePort, PROMETHEUS_BIN, type PrometheusProcess, type PrometheusRule, type StartPrometheusOptions } from './prometheus.ts';
export { readJournal } from './journal.ts';
