export interface Context {
  /** The `Authorization` header as sent, if any. */
  authorization: string | undefined;
  /** The token every call must present; undefined when auth is off. */
  apiToken: string | undefined;
  /** Hides error details from answers. */
  production: boolean;
}

export interface ContextSettings {
  apiToken: string | undefined;
  production: boolean;
}
