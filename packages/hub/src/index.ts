export { createHub, HUB_VERSION, type Hub, type HubOptions } from './hub.ts';
export { HubConfigSchema, type HubConfig } from './config/schema.ts';
