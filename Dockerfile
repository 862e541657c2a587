# One image for every Strata component: `docker run strata sidecar|store|query|compact|tools …`.
#
# The build stage runs exactly the README's build steps (test/deploy checks this without a container
# engine): install the pinned pnpm, install the workspace, compile, then `pnpm deploy` the CLI with
# only its production dependencies into /out.

FROM node:20-slim AS build
WORKDIR /src
RUN npm install -g pnpm@12.4.2
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm build
RUN pnpm --filter @strata/cli deploy --prod /out

FROM node:20-slim
ENV NODE_ENV=production
RUN groupadd --system strata && useradd --system --gid strata --home-dir /data --no-create-home strata \
    && mkdir -p /data && chown strata:strata /data
COPY --from=build /out /app
USER strata
WORKDIR /data
EXPOSE 10901 10902
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--help"]
