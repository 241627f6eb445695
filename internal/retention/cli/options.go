package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// options registers flags whose defaults come from the environment: first
// <PREFIX><FLAG> (--db-host of `retention` is RETENTION_DB_HOST), then conventional
// variables (PGHOST, ...) listed as aliases, so a Kubernetes Job can set everything
// through env; an explicit flag wins over both. It follows internal/backup/cli's options.
type options struct {
	fs      *flag.FlagSet
	prefix  string
	errs    []error
	secrets []func()
}

func (o *options) envName(name string) string {
	return o.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (o *options) lookup(name string, aliases []string) (string, bool) {
	for _, k := range append([]string{o.envName(name)}, aliases...) {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func (o *options) usage(name, usage string, aliases []string) string {
	env := o.envName(name)
	if len(aliases) > 0 {
		env += ", " + strings.Join(aliases, ", ")
	}
	return usage + " (env " + env + ")"
}

func (o *options) str(p *string, name, def, usage string, aliases ...string) {
	if v, ok := o.lookup(name, aliases); ok {
		def = v
	}
	o.fs.StringVar(p, name, def, o.usage(name, usage, aliases))
}

// secretStr is str for values that must not show in --help: the environment is read
// after parsing instead of becoming the flag's default.
func (o *options) secretStr(p *string, name, usage string, aliases ...string) {
	o.fs.StringVar(p, name, "", o.usage(name, usage, aliases))
	o.secrets = append(o.secrets, func() {
		if *p == "" {
			*p, _ = o.lookup(name, aliases)
		}
	})
}

func (o *options) int(p *int, name string, def int, usage string, aliases ...string) {
	if v, ok := o.lookup(name, aliases); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable %s: %q is not a number", o.envName(name), v))
		}
		def = n
	}
	o.fs.IntVar(p, name, def, o.usage(name, usage, aliases))
}

func (o *options) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := o.lookup(name, nil); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable %s: %q is not a duration like 2s", o.envName(name), v))
		}
		def = d
	}
	o.fs.DurationVar(p, name, def, o.usage(name, usage, nil))
}

func (o *options) bool(p *bool, name string, def bool, usage string) {
	if v, ok := o.lookup(name, nil); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable %s: %q is not true or false", o.envName(name), v))
		}
		def = b
	}
	o.fs.BoolVar(p, name, def, o.usage(name, usage, nil))
}

// list is a repeatable flag; its environment variable holds the values separated by
// commas or white space.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func (o *options) list(p *list, name, envName, usage string) {
	if v, ok := os.LookupEnv(o.prefix + envName); ok {
		*p = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	}
	fromEnv := len(*p) > 0
	o.fs.Func(name, usage+" (repeatable; env "+o.prefix+envName+", separated by commas)", func(v string) error {
		// Flags replace what the environment gave, as for every other option.
		if fromEnv {
			*p, fromEnv = nil, false
		}
		*p = append(*p, v)
		return nil
	})
}

// parse parses args and then fills secrets from the environment.
func (o *options) parse(args []string) error {
	if err := o.fs.Parse(args); err != nil {
		return err
	}
	for _, fill := range o.secrets {
		fill()
	}
	return nil
}

func (o *options) err() error { return errors.Join(o.errs...) }

// fromFile returns value, or the trimmed content of file when value is empty. Errors
// name the file, never the content.
func fromFile(value, file, what string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the %s file %s: %w", what, file, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
