// Package envflag registers command-line flags whose defaults come from the environment, for
// the job subcommands the operator runs in pods (backup, retention, dsr): first
// <PREFIX><FLAG> (--db-host of `backup` is BACKUP_DB_HOST), then conventional variables
// (PGHOST, VAULT_ADDR, ...) listed as aliases, so a Kubernetes Job can set everything
// through env; an explicit flag wins over both.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Set is a flag.FlagSet with environment defaults.
type Set struct {
	fs      *flag.FlagSet
	prefix  string
	errs    []error
	secrets []func()
}

// New wraps fs; prefix starts every flag's environment variable, e.g. "BACKUP_".
func New(fs *flag.FlagSet, prefix string) *Set { return &Set{fs: fs, prefix: prefix} }

// EnvName is the environment variable that sets flag name.
func (s *Set) EnvName(name string) string {
	return s.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (s *Set) lookup(name string, aliases []string) (string, bool) {
	for _, k := range append([]string{s.EnvName(name)}, aliases...) {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func (s *Set) usage(name, usage string, aliases []string) string {
	env := s.EnvName(name)
	if len(aliases) > 0 {
		env += ", " + strings.Join(aliases, ", ")
	}
	return usage + " (env " + env + ")"
}

// String registers a string flag.
func (s *Set) String(p *string, name, def, usage string, aliases ...string) {
	if v, ok := s.lookup(name, aliases); ok {
		def = v
	}
	s.fs.StringVar(p, name, def, s.usage(name, usage, aliases))
}

// Secret is String for secret values: the environment is read after parsing rather than
// made the flag's default, so --help never prints a secret.
func (s *Set) Secret(p *string, name, usage string, aliases ...string) {
	s.fs.StringVar(p, name, "", s.usage(name, usage, aliases))
	s.secrets = append(s.secrets, func() {
		if *p == "" {
			*p, _ = s.lookup(name, aliases)
		}
	})
}

// Int registers an int flag.
func (s *Set) Int(p *int, name string, def int, usage string, aliases ...string) {
	if v, ok := s.lookup(name, aliases); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("environment variable %s (for --%s): %q is not a number", s.EnvName(name), name, v))
		}
		def = n
	}
	s.fs.IntVar(p, name, def, s.usage(name, usage, aliases))
}

// Duration registers a duration flag.
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, usage string, aliases ...string) {
	if v, ok := s.lookup(name, aliases); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("environment variable %s (for --%s): %q is not a duration like 720h", s.EnvName(name), name, v))
		}
		def = d
	}
	s.fs.DurationVar(p, name, def, s.usage(name, usage, aliases))
}

// Bool registers a boolean flag.
func (s *Set) Bool(p *bool, name string, def bool, usage string, aliases ...string) {
	if v, ok := s.lookup(name, aliases); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("environment variable %s (for --%s): %q is not true or false", s.EnvName(name), name, v))
		}
		def = b
	}
	s.fs.BoolVar(p, name, def, s.usage(name, usage, aliases))
}

// List registers a repeatable flag; its environment variable <PREFIX><envName> holds the
// values separated by commas or white space, and flags replace what it gave.
func (s *Set) List(p *[]string, name, envName, usage string) {
	if v, ok := os.LookupEnv(s.prefix + envName); ok {
		*p = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	}
	fromEnv := len(*p) > 0
	s.fs.Func(name, usage+" (repeatable; env "+s.prefix+envName+", separated by commas)", func(v string) error {
		if fromEnv {
			*p, fromEnv = nil, false
		}
		*p = append(*p, v)
		return nil
	})
}

// Parse parses args and then fills secrets from the environment.
func (s *Set) Parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	for _, fill := range s.secrets {
		fill()
	}
	return nil
}

// Err reports environment variables whose values did not parse.
func (s *Set) Err() error { return errors.Join(s.errs...) }

// FromFile returns value, or the trimmed content of file when value is empty. Errors name
// the file, never the content.
func FromFile(value, file, what string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the %s file %s: %w", what, file, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
