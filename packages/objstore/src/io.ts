import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Bucket, BodySource } from './bucket.js';

/** Collects a stream into one Buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}

/** The whole object as a Buffer. */
export async function getBuffer(bucket: Bucket, name: string): Promise<Buffer> {
  return readAll(await bucket.get(name));
}

/** Bytes [offset, offset+length) as a Buffer. */
export async function getRangeBuffer(bucket: Bucket, name: string, offset: number, length: number): Promise<Buffer> {
  return readAll(await bucket.getRange(name, offset, length));
}

/** A local file as a re-openable upload body. */
export async function fileSource(path: string): Promise<BodySource> {
  const { size } = await stat(path);
  return { size, open: () => createReadStream(path) };
}

export function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid range offset ${offset}`);
  if (!Number.isSafeInteger(length) || length < -1) throw new RangeError(`invalid range length ${length}`);
}
