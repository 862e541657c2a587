export * from './markers.js';
export { uploadBlock, sha256File, INDEX_FILENAME, CHUNKS_DIRNAME, type UploadOptions } from './upload.js';
export { downloadBlock, readBlockMeta, type DownloadOptions } from './download.js';
export { deleteBlock } from './delete.js';
export * from './fetcher.js';
export * from './filters.js';
export * from './relabel.js';
export * from './cleanup.js';
