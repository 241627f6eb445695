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

// envPrefix prefixes the environment variable of every flag: --db-host is BACKUP_DB_HOST.
const envPrefix = "BACKUP_"

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// options registers flags whose defaults come from the environment: first BACKUP_<FLAG>,
// then the conventional variables (PGHOST, VAULT_ADDR, ...) listed as aliases, so a
// Kubernetes Job can set everything through env; an explicit flag wins over both.
type options struct {
	fs      *flag.FlagSet
	errs    []error
	secrets []func()
}

func (o *options) lookup(name string, aliases []string) (string, bool) {
	for _, k := range append([]string{envName(name)}, aliases...) {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func (o *options) usage(name, usage string, aliases []string) string {
	env := envName(name)
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

// secretStr is str for secret values: the environment is read after parsing rather than
// made the flag's default, so --help never prints a secret.
func (o *options) secretStr(p *string, name, usage string, aliases ...string) {
	o.fs.StringVar(p, name, "", o.usage(name, usage, aliases))
	o.secrets = append(o.secrets, func() {
		if *p == "" {
			*p, _ = o.lookup(name, aliases)
		}
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

func (o *options) int(p *int, name string, def int, usage string, aliases ...string) {
	if v, ok := o.lookup(name, aliases); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable for --%s: %q is not a number", name, v))
		}
		def = n
	}
	o.fs.IntVar(p, name, def, o.usage(name, usage, aliases))
}

func (o *options) duration(p *time.Duration, name string, def time.Duration, usage string, aliases ...string) {
	if v, ok := o.lookup(name, aliases); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable for --%s: %q is not a duration like 720h", name, v))
		}
		def = d
	}
	o.fs.DurationVar(p, name, def, o.usage(name, usage, aliases))
}

func (o *options) bool(p *bool, name string, def bool, usage string, aliases ...string) {
	if v, ok := o.lookup(name, aliases); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("environment variable for --%s: %q is not true or false", name, v))
		}
		def = b
	}
	o.fs.BoolVar(p, name, def, o.usage(name, usage, aliases))
}

func (o *options) err() error { return errors.Join(o.errs...) }

// secret returns value, or the trimmed content of file when value is empty. Errors name
// the file, never the content.
func secret(value, file, what string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the %s file: %w", what, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
