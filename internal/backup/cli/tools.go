package cli

import (
	"context"
	"flag"
	"io"

	"github.com/privatedesk/helpdesk-operator/internal/backup"
	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/envflag"
)

// Pipeline writes pg_dump through the engine's zstd to w, with the database options of
// Main; it exists to measure the pipeline without encryption and upload.
func Pipeline(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	o := envflag.New(fs, "BACKUP_")
	var f dbFlags
	f.register(o)
	if err := o.Err(); err != nil {
		return err
	}
	if err := o.Parse(args); err != nil {
		return err
	}
	db, err := f.build()
	if err != nil {
		return err
	}
	_, err = backup.DumpCompressed(ctx, db, w)
	return err
}

// MakeBucket creates the bucket named by the S3 options of Main (benchmarks and demos).
func MakeBucket(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mkbucket", flag.ContinueOnError)
	o := envflag.New(fs, "BACKUP_")
	var f destFlags
	f.register(o)
	if err := o.Err(); err != nil {
		return err
	}
	if err := o.Parse(args); err != nil {
		return err
	}
	d, err := f.build()
	if err != nil {
		return err
	}
	s3, ok := d.(*dest.S3)
	if !ok {
		return nil
	}
	return s3.MakeBucket(ctx)
}
