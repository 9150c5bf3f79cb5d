export { HomelabError, isHomelabError } from './errors.ts';
export { safeEqual, bearerToken } from './secrets.ts';
