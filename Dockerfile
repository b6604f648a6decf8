# A minimal Cairn image: the static cairn binary and nothing else.
#
# Nothing is pulled: the binary is built on the host (static, no cgo) and
# copied in, so the build needs no golang image and no registry.
#
#   CGO_ENABLED=0 go build -trimpath -o build/cairn ./cmd/cairn
#   docker build -t cairn .
#
# The image runs as the unprivileged user 10001 (no shell, no package
# manager). /data is a validator's data directory and /cairn the network
# written by `cairn init --docker --home /cairn` (genesis, configs, keys);
# both are volumes owned by 10001, so named volumes start out writable by it.
# Config comes from the node's config.json, overridden by environment
# (CAIRN_API_ADDR, CAIRN_P2P_ADDR, CAIRN_LOG_LEVEL, CAIRN_DATA_DIR,
# CAIRN_SEARCH, CAIRN_MEMPOOL_MAX_TXS) and flags. `cairn node` stops
# cleanly on SIGTERM (docker stop) and exits 0. See docs/containers.md.
FROM scratch
COPY deploy/image/etc/ /etc/
COPY build/cairn /usr/local/bin/cairn
COPY --chown=10001:10001 deploy/image/volume/ /data/
COPY --chown=10001:10001 deploy/image/volume/ /cairn/
COPY --chown=10001:10001 deploy/image/tmp/ /tmp/
USER 10001:10001
ENV CAIRN_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080 26656
STOPSIGNAL SIGTERM
# No shell in the image: the binary is its own probe (GET /readyz in the
# same container; 0 when consensus runs).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/cairn", "health", "--node", "http://127.0.0.1:8080", "--timeout", "4s"]
ENTRYPOINT ["/usr/local/bin/cairn"]
CMD ["node", "--home", "/cairn/node0"]
LABEL org.opencontainers.image.title="cairn" \
      org.opencontainers.image.description="Cairn validator and command-line client"
