# songmatch on the official PostgreSQL image (Debian 12), PostgreSQL 15 or 17.
#   make package PG_MAJOR=17
#   cp packaging/docker/install-in-image.sh target/package/
#   docker build -f packaging/docker/postgres.Dockerfile --build-arg PG_MAJOR=17 \
#       --build-arg SONGMATCH_VERSION=0.9.1 -t songmatch:pg17 target/package
#   docker run -e POSTGRES_PASSWORD=... songmatch:pg17 -c shared_preload_libraries=songmatch
# The RUN step is install-in-image.sh, which `make test-package` runs on the build machine; the
# pgvector line uses the image's own PGDG repository (songmatch needs pgvector >= 0.8.0).
ARG PG_MAJOR=17
FROM postgres:${PG_MAJOR}-bookworm
ARG PG_MAJOR
ARG SONGMATCH_VERSION
COPY postgresql-${PG_MAJOR}-songmatch_${SONGMATCH_VERSION}_amd64.tar.gz /tmp/songmatch.tar.gz
COPY install-in-image.sh /tmp/install-in-image.sh
RUN apt-get update && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-pgvector" \
 && rm -rf /var/lib/apt/lists/* \
 && sh /tmp/install-in-image.sh /tmp/songmatch.tar.gz \
 && rm /tmp/songmatch.tar.gz /tmp/install-in-image.sh
