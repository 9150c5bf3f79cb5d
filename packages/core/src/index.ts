export { HomelabError, isHomelabError } from './errors.ts';
export { safeEqual, bearerToken, randomHex } from './secrets.ts';
