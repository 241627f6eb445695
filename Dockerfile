# syntax=docker/dockerfile:1
# The operator image: the static binary /helpdesk-operator on distroless (no shell).
# The manager runs `helpdesk-operator manager`; backup, drill and restore pods copy
# /helpdesk-operator into the PostgreSQL image with an init container that runs
# `helpdesk-operator copy-binary`, so the image needs nothing but the binary.
#
#   make docker-build IMG=registry.example.com/helpdesk-operator:v0.1.0

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src

# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/helpdesk-operator ./cmd/helpdesk-operator

FROM gcr.io/distroless/static:nonroot
COPY --from=builder /out/helpdesk-operator /helpdesk-operator
USER 65532:65532
ENTRYPOINT ["/helpdesk-operator"]
CMD ["manager"]
