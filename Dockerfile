# modelcache-operator image: the operator (`run`, the default command) and the
# hydration Jobs' downloader (`hydrate`) are the same binary, so the same image
# serves both; --hydrator-image defaults to modelcache-operator:<version>.
#
#   docker build -t modelcache-operator:0.1.0 .      (public Debian images)
#   hack/build-image.sh                              (offline: podman, local base images)
#
# The base images are build arguments so that hack/build-image.sh can pass
# locally made ones (debootstrap) where no registry is reachable.
ARG BUILD_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config \
      libcurl4-openssl-dev libjson-c-dev libyaml-dev libwebsockets-dev libssl-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release, warnings as errors; only the one program the image ships.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DWERROR=ON >/dev/null \
 && cmake --build /build -j"$(nproc)" --target modelcache-operator \
 && strip /build/bin/modelcache-operator \
 && /build/bin/modelcache-operator version

FROM ${RUNTIME_IMAGE}
# The shared libraries the binary links (libcurl, json-c, libyaml,
# libwebsockets, OpenSSL) and the CA bundle for HTTPS to the Hub and to
# remote clusters; nothing else.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libjson-c5 libyaml-0-2 libwebsockets17 libssl3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /build/bin/modelcache-operator /usr/local/bin/modelcache-operator
# The restricted pod security profile's numeric non-root user (the Deployment
# and the hydration Jobs run as 65532 too).
USER 65532:65532
ENTRYPOINT ["modelcache-operator"]
