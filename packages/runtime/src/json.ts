/** JSON answers as Prometheus' HTTP API (Go's encoding/json) writes and types them. */
import type { FastifyReply } from 'fastify';

/** Characters Go's encoding/json escapes in strings (for HTML safety), as Prometheus' answers carry them. */
const GO_ESCAPED = /[<>&\u2028\u2029]/;
const GO_ESCAPED_ALL = /[<>&\u2028\u2029]/g;

/**
 * JSON text as Go writes it: `<`, `>`, `&`, U+2028 and U+2029 as \u escapes. JSON.stringify leaves
 * them as they are, and outside strings JSON has none of them, so the whole text (or any piece of it)
 * can be rewritten at once.
 */
export function goJson(json: string): string {
  return GO_ESCAPED.test(json) ? json.replace(GO_ESCAPED_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/**
 * Sends JSON text typed `application/json` as Prometheus types it: as bytes, since fastify adds
 * `; charset=utf-8` to the type of a string it sends.
 */
export function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.header('content-type', 'application/json').send(Buffer.from(json));
}
