import { createHash, timingSafeEqual } from 'node:crypto';
import { type ApiToken, type Role, roles } from '../schemas/roles';

export { type ApiToken, type Role, roles };

/**
 * What a procedure needs: `read` any role; `work` a worker's calls (the queue and the writes a job produces:
 * discovered videos, transcripts, follow-up jobs); `admin` everything else (deletes, edits, sessions).
 */
export type Access = 'read' | 'work' | 'admin';

export const grants: Record<Role, readonly Access[]> = {
  reader: ['read'],
  worker: ['read', 'work'],
  admin: ['read', 'work', 'admin'],
};

/** The roles that may make a call of this access, for messages and the API reference. */
export const rolesFor = (access: Access): Role[] => roles.filter((role) => grants[role].includes(access));

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The role of the bearer token in an `Authorization` header, or undefined. Every configured token is compared, in
 * constant time over fixed-length digests, so neither which token matched nor its length leaks.
 */
export function roleOf(header: string | undefined, tokens: readonly ApiToken[]): Role | undefined {
  // RFC 9110: the scheme's name is case-insensitive.
  // Stryker disable next-line StringLiteral: what a missing token is compared as does not matter, no token is empty.
  const presented = digest(/^bearer +(\S+)$/i.exec(header ?? '')?.[1] ?? '');
  let found: Role | undefined;
  for (const { token, role } of tokens) {
    if (timingSafeEqual(presented, digest(token)) && found === undefined) found = role;
  }
  return found;
}

export const unauthenticatedMessage = 'a valid bearer token is required';

/** Whether a request may be read at all: no tokens are configured, or it carries one of them. */
export const authenticated = (header: string | undefined, tokens: readonly ApiToken[]): boolean =>
  tokens.length === 0 || roleOf(header, tokens) !== undefined;
