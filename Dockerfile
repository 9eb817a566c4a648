# syntax=docker/dockerfile:1
#
# ivschat-operator image: a release build on Debian bookworm, run on distroless cc (glibc and
# libgcc only: aws-lc links against glibc) as the distroless `nonroot` user (65532), no shell.
#
#   docker build -t ghcr.io/operators-dev/ivschat-operator:0.1.0 .
#
# The chart runs it with `args: [run, --flag=value, ...]`; `ivschat-operator crds` prints the CRDs.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Workspace manifests and lockfile first, then the sources (see .dockerignore for the rest).
COPY Cargo.toml Cargo.lock ./
COPY ivschat-emulator/Cargo.toml ivschat-emulator/Cargo.toml
COPY ivschat-emulator/src ivschat-emulator/src
COPY src src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ivschat-operator \
 && install -D -m 0755 target/release/ivschat-operator /out/ivschat-operator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="ivschat-operator" \
      org.opencontainers.image.description="Kubernetes operator for AWS IVS Chat rooms and logging configurations" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/operators-dev/ivschat-operator"
COPY --from=build /out/ivschat-operator /usr/local/bin/ivschat-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ivschat-operator"]
CMD ["run"]
