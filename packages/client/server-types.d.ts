// The server's types that the router's declarations name, as the client's declarations see them: opaque. A client
// never reads them (they type the context and meta a procedure runs with); the build fails on a name missing here.
export type Knex = unknown;
export type FastifyBaseLogger = unknown;
export type FastifyReply = unknown;
export type FastifyRequest = unknown;
export type OpenApiMeta = object;
export type OpenApiMethod = string;
