import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

const milliseconds = (value: number) => Math.round(value * 100) / 100;

/**
 * One line per request, when it ends, with what a reader looks for first (method, URL, status, duration); the
 * "incoming" line moves to debug. Each line carries the request id, as every line a request's logger writes does.
 */
export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    // An error here is a failure to send the response; Fastify's own line for it says the most.
    if (error) return super.requestCompleted(error, request, reply);
    reply.log.info(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        durationMs: milliseconds(reply.elapsedTime),
      },
      'request',
    );
  }
}
