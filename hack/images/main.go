// Command imagebuild writes a container image as an OCI image layout tar, for
// `ctr images import`, without a container engine or a registry. hack/e2e-images.sh uses
// it to build the end-to-end tests' images.
//
// An image is an optional base root filesystem tar (one layer, as given) and one layer of
// files, directories and symbolic links named by flags, plus its config. The files layer
// is deterministic (sorted, fixed times, root-owned), so unchanged inputs give the same
// digest. The result is cached by an input key: when -out exists with the same key the
// image is not written again. The manifest digest is printed and stored in <out>.digest.
//
//	imagebuild -name REF -out FILE [-base-tar TAR] [-file SRC:DST:MODE]... [-dir DST:MODE]...
//	  [-symlink DST:TARGET]... [-env K=V]... [-entrypoint A,B] [-cmd A,B] [-user U:G] [-workdir D]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// epoch is every entry's modification time, so the layer depends on content only.
var epoch = time.Unix(0, 0).UTC()

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	var files, dirs, links, env list
	ref := fs.String("name", "", "image reference the import names the image, e.g. example.invalid/pause:e2e")
	out := fs.String("out", "", "OCI image layout tar to write")
	base := fs.String("base-tar", "", "a root filesystem tar that becomes the first layer as it is")
	entrypoint := fs.String("entrypoint", "", "comma-separated entrypoint")
	cmd := fs.String("cmd", "", "comma-separated command")
	user := fs.String("user", "", "user[:group] the image runs as")
	workdir := fs.String("workdir", "", "working directory")
	fs.Var(&files, "file", "SRC:DST:MODE, a file to add (octal mode)")
	fs.Var(&dirs, "dir", "DST:MODE, a directory to add")
	fs.Var(&links, "symlink", "DST:TARGET, a symbolic link to add")
	fs.Var(&env, "env", "K=V, an environment variable of the image")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" || *out == "" {
		return errors.New("-name and -out are required")
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("-name %q: %w", *ref, err)
	}

	key, err := inputKey(args, *base, files)
	if err != nil {
		return err
	}
	if cached, err := os.ReadFile(*out + ".key"); err == nil && string(cached) == key {
		if digest, err := os.ReadFile(*out + ".digest"); err == nil {
			if _, err := os.Stat(*out); err == nil {
				fmt.Println(strings.TrimSpace(string(digest)))
				return nil
			}
		}
	}

	img := empty.Image
	if *base != "" {
		layer, err := tarball.LayerFromFile(*base, tarball.WithCompressionLevel(gzip.BestSpeed))
		if err != nil {
			return fmt.Errorf("base layer %s: %w", *base, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	if len(files)+len(dirs)+len(links) > 0 {
		data, err := filesLayer(files, dirs, links)
		if err != nil {
			return err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		})
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	cfgFile, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cfgFile.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Env = env
	cfg.Config.Entrypoint = splitList(*entrypoint)
	cfg.Config.Cmd = splitList(*cmd)
	cfg.Config.User = *user
	cfg.Config.WorkingDir = *workdir
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if err := writeLayoutTar(img, tag, *out); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".digest", []byte(digest.String()+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".key", []byte(key), 0o644); err != nil {
		return err
	}
	fmt.Println(digest.String())
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// inputKey hashes the arguments and the content of every input file.
func inputKey(args []string, base string, files list) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "imagebuild v1\n%q\n", args)
	paths := []string{}
	if base != "" {
		paths = append(paths, base)
	}
	for _, f := range files {
		paths = append(paths, strings.SplitN(f, ":", 2)[0])
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// filesLayer is an uncompressed tar of the given files, directories and links, with the
// parent directories of each, sorted by path.
func filesLayer(files, dirs, links list) ([]byte, error) {
	entries := map[string]entry{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755}}
			}
		}
	}
	for _, f := range files {
		parts := strings.Split(f, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("-file %q: want SRC:DST:MODE", f)
		}
		mode, err := strconv.ParseInt(parts[2], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("-file %q: mode: %w", f, err)
		}
		data, err := os.ReadFile(parts[0])
		if err != nil {
			return nil, err
		}
		dst := path.Clean(parts[1])
		addParents(dst)
		entries[dst] = entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: mode, Size: int64(len(data))}, data: data}
	}
	for _, d := range dirs {
		parts := strings.Split(d, ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("-dir %q: want DST:MODE", d)
		}
		mode, err := strconv.ParseInt(parts[1], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("-dir %q: mode: %w", d, err)
		}
		dst := path.Clean(parts[0])
		addParents(dst)
		entries[dst] = entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(dst, "/") + "/", Mode: mode}}
	}
	for _, l := range links {
		parts := strings.SplitN(l, ":", 2)
		if len(parts) != 2 {
			return nil, fmt.Errorf("-symlink %q: want DST:TARGET", l)
		}
		dst := path.Clean(parts[0])
		addParents(dst)
		entries[dst] = entry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(dst, "/"), Linkname: parts[1], Mode: 0o777}}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		e.hdr.ModTime, e.hdr.Format = epoch, tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayoutTar writes img as an OCI image layout (annotated with the name containerd
// gives it on import) and packs the layout into one tar at out.
func writeLayoutTar(img v1.Image, tag name.Tag, out string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	err = p.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}),
		layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          tag.Name(),
			"org.opencontainers.image.ref.name": tag.TagStr(),
		}))
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime = epoch
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}
