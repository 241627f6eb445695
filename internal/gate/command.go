package gate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// DefaultConfigPath is where the operator mounts the rendered configuration.
const DefaultConfigPath = "/etc/helpdesk-gate/config.json"

// Main runs `helpdesk-operator gate`: it loads the configuration and serves until ctx
// ends, then drains the requests in flight.
func Main(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", DefaultConfigPath, "the gate's JSON configuration (rendered by the operator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gate: unexpected arguments %v", fs.Args())
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "gate")
	g, err := New(cfg, Options{Logger: log})
	if err != nil {
		return err
	}
	server := &http.Server{
		Addr:              cfg.ListenAddress,
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No write timeout: attachments up and down pass through.
	}
	served := make(chan error, 1)
	go func() { served <- server.ListenAndServe() }()
	log.Info("serving", "address", cfg.ListenAddress, "provider", g.login.name())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
