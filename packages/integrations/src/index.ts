// The static list of homelab service integrations (one folder per service under src/,
// each set up only when configured). None exist yet; later issues add them here.
export {};
