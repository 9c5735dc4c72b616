# brulee's container image: nmap + brulee on a slim Debian, run as a non-root user that can
# still do SYN scans (nmap holds only the file capability cap_net_raw).
#
#   docker build -t brulee .          (or: podman build -t brulee .)
#   docker run --rm --cap-drop ALL --cap-add NET_RAW -v "$PWD/out:/reports" brulee \
#       scan 127.0.0.1 -o /reports/run1
#
# The default target (`runtime`, the last stage) compiles brulee from this source tree.
# `--target prebuilt` instead copies a `brulee` binary from the build context; `cargo xtask
# container` uses it to test the image where no Rust builder image can be pulled (README,
# "Deployment").

# Images are arguments so that machines without a registry can pass local ones.
ARG BUILDER=rust:1-slim-bookworm
ARG BASE=debian:bookworm-slim

FROM ${BUILDER} AS build
WORKDIR /src
COPY . .
# --locked: the image holds exactly the dependency versions of Cargo.lock. Report templates are
# compiled into the binary; the first-party plugins (WASM components and Lua scripts, which a
# manifest names with plugin = "s3", "owner", …) go to /out/plugins.
RUN rustup target add wasm32-wasip2 \
    && cargo build --release --locked -p brulee \
    && install -D -m 0755 target/release/brulee /out/brulee \
    && cargo xtask plugins --install /out/plugins

FROM ${BASE} AS runtime-base
# libcap2-bin only for setcap, then removed. Debian's nmap carries cap_net_admin+cap_net_raw;
# a container given only NET_RAW (as Kubernetes' `capabilities.add: [NET_RAW]` does) cannot
# exec a file that asks for more capabilities than the container's bounding set, so nmap gets
# exactly cap_net_raw. The apt lists and caches are a third of the image: cleaned.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nmap ca-certificates libcap2-bin \
    && setcap cap_net_raw+eip /usr/bin/nmap \
    && apt-get purge -y --auto-remove libcap2-bin \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
# A fixed numeric UID/GID: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 brulee \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/brulee \
        --shell /usr/sbin/nologin brulee \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/brulee /reports
# NMAP_PRIVILEGED=1: nmap (and brulee, which follows nmap's rule) treat the non-root user as
# able to send raw packets, so the scan is a SYN scan like Flan Scan's, not a connect scan.
ENV BRULEE_DB=/var/lib/brulee/cve.sqlite \
    BRULEE_PLUGIN_DIR=/usr/local/lib/brulee/plugins \
    NMAP_PRIVILEGED=1
# The offline CVE database: mount one here, or fill it with `brulee db update`.
VOLUME ["/var/lib/brulee"]
WORKDIR /reports
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/brulee"]
CMD ["--help"]

# A brulee binary and its plugins built outside the image, taken from the build context (a
# folder holding `brulee` and the `plugins/` of `cargo xtask plugins --install`). The binary
# must be linked against glibc no newer than the base image's (Debian 12: 2.36).
FROM runtime-base AS prebuilt
COPY plugins /usr/local/lib/brulee/plugins
COPY brulee /usr/local/bin/brulee

FROM runtime-base AS runtime
COPY --from=build /out/plugins /usr/local/lib/brulee/plugins
COPY --from=build /out/brulee /usr/local/bin/brulee
