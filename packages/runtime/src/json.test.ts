import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { goJson, sendJson } from './json.js';

describe('goJson', () => {
  it('escapes what Go escapes in strings, and nothing else', () => {
    const text = JSON.stringify({ q: 'a > b && c < d', sep: '\u2028\u2029', plain: 'é"\\' });
    expect(goJson(text)).toBe('{"q":"a \\u003e b \\u0026\\u0026 c \\u003c d","sep":"\\u2028\\u2029","plain":"é\\"\\\\"}');
    expect(JSON.parse(goJson(text))).toEqual(JSON.parse(text));
    expect(goJson('{"a":1}')).toBe('{"a":1}');
  });
});

describe('sendJson', () => {
  it('types the answer application/json, without the charset fastify gives a string', async () => {
    const app = Fastify();
    app.get('/', (_req, reply) => sendJson(reply, '{"a":"<"}'));
    const res = await app.inject('/');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toBe('{"a":"<"}');
    await app.close();
  });
});
