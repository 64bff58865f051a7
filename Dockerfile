# One image with both binaries: `llamagate` (gateway, bridge, CLI) and `llamagate-operator`.
# The chart and the operator's builders run them by these absolute paths.
#
#     docker build -t ghcr.io/llamagate/llamagate:0.1.0 .

FROM rust:1.95-bookworm AS build
# aws-lc-rs (rustls) builds its C parts with cmake.
RUN apt-get update && apt-get install -y --no-install-recommends cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p llamagate --bin llamagate -p llamagate-operator --bin llamagate-operator

# No shell, no package manager: glibc and CA certificates only.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/llamagate /usr/local/bin/llamagate
COPY --from=build /src/target/release/llamagate-operator /usr/local/bin/llamagate-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/llamagate"]
CMD ["serve", "--config", "/etc/llamagate/llamagate.yaml"]
