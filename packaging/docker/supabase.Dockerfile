# songmatch in self-hosted Supabase: a database image derived from supabase/postgres (15 or 17).
#   make package PG_MAJOR=17
#   cp packaging/docker/install-in-image.sh target/package/
#   docker build -f packaging/docker/supabase.Dockerfile --build-arg PG_MAJOR=17 \
#       --build-arg SUPABASE_POSTGRES_TAG=<the tag your docker-compose.yml uses> \
#       --build-arg SONGMATCH_VERSION=0.9.1 -t supabase-postgres-songmatch target/package
# then set the `db` service's image in Supabase's docker-compose.yml to it.
# The image is Alpine + Nix (glibc 2.40): the package needs glibc >= 2.36 and carries the C++
# runtime it needs. install-in-image.sh --supabase puts the library in the NIX_PGLIBDIR that the
# image's `postgres` wrapper sets, and writes conf.d/songmatch.conf with the image's
# shared_preload_libraries and supautils.privileged_extensions plus songmatch (so `postgres`,
# not only a superuser, can CREATE EXTENSION songmatch). `make test-package` runs that script on
# the build machine against stand-ins for the wrapper and the configuration; FROM and COPY, and
# the image's real files, are not exercised there.
ARG SUPABASE_POSTGRES_TAG
FROM supabase/postgres:${SUPABASE_POSTGRES_TAG}
ARG PG_MAJOR=17
ARG SONGMATCH_VERSION
USER root
COPY postgresql-${PG_MAJOR}-songmatch_${SONGMATCH_VERSION}_amd64.tar.gz /tmp/songmatch.tar.gz
COPY install-in-image.sh /tmp/install-in-image.sh
RUN sh /tmp/install-in-image.sh /tmp/songmatch.tar.gz --supabase \
 && rm /tmp/songmatch.tar.gz /tmp/install-in-image.sh
