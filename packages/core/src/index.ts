export { HomelabError, isHomelabError } from './errors.ts';
export { safeEqual, bearerToken, randomHex, readSecretFile, type SecretFile } from './secrets.ts';
