# syntax=docker/dockerfile:1
# volley in a container.
#
#   docker build -t volley .
#   docker run --rm volley --help
#   docker run --rm --network host volley http://127.0.0.1:8080/health -c 50 -d 10s --headless
#   docker run --rm -v "$PWD:/home/nonroot/work" -w /home/nonroot/work volley \
#       run scenarios/smoke.toml --headless --out json=results.json
#   docker run --rm -it volley run /usr/share/volley/scenarios/demo.toml   # the console needs -it
#
# The same image is a fleet's coordinator and its workers (`volley k8s manifest FILE
# --workers N --image IMG` writes the Kubernetes objects that run it; docs/fleet.md).
#
# Builder: the official Rust image at the crate's rust-version; runtime: distroless/cc
# (glibc and libgcc for ring, no shell, no package manager), as the non-root user.
# volley verifies TLS with the Mozilla roots compiled into it (webpki-roots), so the
# runtime needs no CA bundle.

FROM rust:1.88-slim-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target folder between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin volley \
    && cp target/release/volley /usr/local/bin/volley

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /usr/local/bin/volley /usr/local/bin/volley
COPY --from=builder /src/scenarios /usr/share/volley/scenarios
COPY --from=builder /src/schema /usr/share/volley/schema
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/volley"]
CMD ["--help"]
