/** Who a token belongs to; each role may do what the roles before it may, and more. */
export const roles = ['reader', 'worker', 'admin'] as const;
export type Role = (typeof roles)[number];

/** A bearer token the API accepts, and the role it carries. */
export interface ApiToken {
  token: string;
  role: Role;
}
