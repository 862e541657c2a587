import type { FastifyPluginAsync } from 'fastify';
import { blocksHtml } from './page.js';
import type { BlocksView } from './view.js';

export interface BlocksViews {
  /** Every block in the bucket the component sees (`/api/v1/blocks`, the `/blocks` page). */
  global: BlocksView;
  /** The blocks a store gateway serves (`/api/v1/blocks?view=loaded`, the `/loaded` page). */
  loaded?: BlocksView;
}

const BLOCKS_QUERY = {
  type: 'object',
  properties: { view: { type: 'string' } },
} as const;

/**
 * Thanos' block viewer: `GET /api/v1/blocks` answers `{status, data: BlocksInfo}` (`?view=loaded` for a
 * store gateway's loaded blocks), and `/blocks` (`/loaded`) is a page that draws them on a timeline.
 */
export function blocksPlugin(views: BlocksViews): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { view?: string } }>('/api/v1/blocks', { schema: { querystring: BLOCKS_QUERY } }, async (req) => {
      const view = req.query.view === 'loaded' && views.loaded !== undefined ? views.loaded : views.global;
      return { status: 'success', data: view.info() };
    });
    app.get('/blocks', { schema: {} }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(blocksHtml('global')));
    if (views.loaded !== undefined) app.get('/loaded', { schema: {} }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(blocksHtml('loaded')));
  };
}
