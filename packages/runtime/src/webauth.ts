/**
 * TLS and basic authentication for a component's HTTP server, as Prometheus' exporter-toolkit gives
 * them to Prometheus (`--web.config.file`) and Thanos (`--http.config`): what its web configuration
 * says, loaded (the CLI reads the YAML and the files it names).
 */
import { createHash } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Go's tls.ClientAuthType names, as the configuration's client_auth_type gives them. */
export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';

export interface WebConfig {
  tls?: { cert: Buffer; key: Buffer; clientCA?: Buffer; clientAuth: ClientAuthType; minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' };
  /** Users and their bcrypt password hashes: every request must authenticate as one of them. */
  basicAuthUsers?: Record<string, string>;
  /** Headers added to every response (http_server_config.headers). */
  headers?: Record<string, string>;
}

/** The options of a fastify HTTPS server for `tls`. */
export function httpsOptions(tls: NonNullable<WebConfig['tls']>): ServerOptions {
  const requestCert = tls.clientAuth !== 'NoClientCert';
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.clientCA !== undefined ? { ca: tls.clientCA } : {}),
    requestCert,
    // Only the strict mode lets the handshake refuse a client; the others are checked per request.
    rejectUnauthorized: tls.clientAuth === 'RequireAndVerifyClientCert',
    ...(tls.minVersion !== undefined ? { minVersion: tls.minVersion } : {}),
  };
}

/** Successful logins remembered (by user and password hash), so that bcrypt runs once per client, not per request. */
const MAX_REMEMBERED = 256;

/** Adds the client certificate checks, basic authentication and response headers of `web` to `app`. */
export function addWebAuth(app: FastifyInstance, web: WebConfig): void {
  const clientAuth = web.tls?.clientAuth ?? 'NoClientCert';
  if (clientAuth === 'RequireAnyClientCert' || clientAuth === 'VerifyClientCertIfGiven') {
    app.addHook('onRequest', async (req, reply) => {
      const socket = req.raw.socket as TLSSocket;
      const presented = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
      if (clientAuth === 'RequireAnyClientCert' && !presented) return refuse(reply, 403, 'a client certificate is required');
      if (clientAuth === 'VerifyClientCertIfGiven' && presented && !socket.authorized) return refuse(reply, 403, `client certificate not trusted: ${String(socket.authorizationError)}`);
      return undefined;
    });
  }
  const users = web.basicAuthUsers;
  if (users !== undefined && Object.keys(users).length > 0) {
    const remembered = new Set<string>();
    app.addHook('onRequest', async (req, reply) => {
      const credentials = basicCredentials(req);
      const hash = credentials !== undefined ? users[credentials.user] : undefined;
      if (credentials === undefined || hash === undefined) return unauthorized(reply);
      const key = `${credentials.user}\0${createHash('sha256').update(credentials.password).digest('hex')}`;
      if (remembered.has(key)) return undefined;
      if (!(await bcrypt.compare(credentials.password, hash))) return unauthorized(reply);
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.add(key);
      return undefined;
    });
  }
  const headers = web.headers;
  if (headers !== undefined && Object.keys(headers).length > 0) {
    app.addHook('onSend', async (_req, reply, payload) => {
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      return payload;
    });
  }
}

/** The user and password of a request's basic `Authorization` header, if it has one. */
export function basicCredentials(req: FastifyRequest): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function unauthorized(reply: FastifyReply): FastifyReply {
  return reply.code(401).header('WWW-Authenticate', 'Basic').type('text/plain').send('Unauthorized\n');
}

function refuse(reply: FastifyReply, code: number, why: string): FastifyReply {
  return reply.code(code).type('text/plain').send(`${why}\n`);
}
