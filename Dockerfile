# jidconnect: build once, run as an unprivileged user on a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin jidconnect

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/jidconnect --create-home jidconnect \
 && install -d -m 0700 -o jidconnect -g jidconnect /var/lib/jidconnect/keys
COPY --from=build /src/target/release/jidconnect /usr/local/bin/jidconnect
COPY config.example.toml /etc/jidconnect/config.example.toml
USER jidconnect
WORKDIR /var/lib/jidconnect
VOLUME ["/var/lib/jidconnect"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["jidconnect"]
CMD ["serve"]
