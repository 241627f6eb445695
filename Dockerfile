# syntax=docker/dockerfile:1
# The operator image: the static binary /helpdesk-operator on distroless (no shell).
# The manager runs `helpdesk-operator manager`; backup, drill and restore pods copy
# /helpdesk-operator into the PostgreSQL image with an init container that runs `cp`, so
# the image also carries a minimal static cp (built here from Go, below).
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

# `cp SOURCE DEST`: just enough for the init containers; distroless has no coreutils.
COPY <<'GO' /cp/main.go
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cp SOURCE DEST")
		os.Exit(2)
	}
	if err := copyFile(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "cp:", err)
		os.Exit(1)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
GO
RUN --mount=type=cache,target=/root/.cache/go-build \
    cd /cp && go mod init local/cp && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags='-s -w' -o /out/cp .

FROM gcr.io/distroless/static:nonroot
COPY --from=builder /out/helpdesk-operator /helpdesk-operator
COPY --from=builder /out/cp /usr/local/bin/cp
USER 65532:65532
ENTRYPOINT ["/helpdesk-operator"]
CMD ["manager"]
