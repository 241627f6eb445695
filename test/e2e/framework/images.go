package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ImageSpec describes an image for BuildImage: the flags of hack/images (imagebuild).
type ImageSpec struct {
	// Ref is the name the cluster knows the image by; use the helpdesk-e2e.invalid
	// registry so that it can never be pulled from anywhere.
	Ref string
	// BaseTar is an optional root filesystem tar that becomes the first layer.
	BaseTar string
	// Files maps a path in the image to a local file and its mode, "SRC:MODE".
	Files map[string]string
	// Symlinks maps a path in the image to its target.
	Symlinks map[string]string
	// Env, Entrypoint, Cmd, User and WorkingDir are the image config.
	Env             []string
	Entrypoint, Cmd []string
	User            string
	WorkingDir      string
}

// BuildImage writes spec as an OCI image layout tar under the e2e image cache (through
// hack/images, so with go-containerregistry) and imports it into the cluster's containerd,
// unless an image of the same digest is there already. Pods must use the exact Ref, with
// imagePullPolicy Never or IfNotPresent.
func (c *Cluster) BuildImage(ctx context.Context, spec ImageSpec) error {
	cache := filepath.Join(c.StateDir, "test-images")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	out := filepath.Join(cache, strings.NewReplacer("/", "_", ":", "_").Replace(spec.Ref)+".oci.tar")
	args := []string{"run", ".", "-name", spec.Ref, "-out", out, "-user", spec.User, "-workdir", spec.WorkingDir,
		"-entrypoint", strings.Join(spec.Entrypoint, ","), "-cmd", strings.Join(spec.Cmd, ",")}
	if spec.BaseTar != "" {
		args = append(args, "-base-tar", spec.BaseTar)
	}
	for dst, src := range spec.Files {
		file, mode, ok := strings.Cut(src, ":")
		if !ok {
			mode = "0644"
		}
		args = append(args, "-file", file+":"+dst+":"+mode)
	}
	for dst, target := range spec.Symlinks {
		args = append(args, "-symlink", dst+":"+target)
	}
	for _, e := range spec.Env {
		args = append(args, "-env", e)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(c.Root, "hack", "images")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building image %s: %w: %s", spec.Ref, err, out)
	}
	return c.ImportImage(ctx, out, spec.Ref)
}

// ImportImage imports an image tar (OCI layout or docker archive) into the cluster's
// containerd, in the namespace the kubelet uses, unless ref already has the digest
// recorded in tar+".digest".
func (c *Cluster) ImportImage(ctx context.Context, tar, ref string) error {
	ctr := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", c.ContainerdSocket, "-n", "k8s.io"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if want, err := os.ReadFile(tar + ".digest"); err == nil {
		have, err := ctr("images", "ls", "-q", "name=="+ref)
		if err == nil && strings.TrimSpace(have) == ref {
			list, err := ctr("images", "ls", "name=="+ref)
			if err == nil && strings.Contains(list, strings.TrimSpace(string(want))) {
				return nil
			}
		}
	}
	_, err := ctr("images", "import", tar)
	return err
}
