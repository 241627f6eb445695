package controllers

import (
	"flag"
	"reflect"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/resources"
)

func TestPackagingFlags(t *testing.T) {
	var p packagingFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	p.bind(fs)
	if p.preflightInterval != time.Minute {
		t.Errorf("--preflight-interval defaults to %s, want 1m", p.preflightInterval)
	}
	if err := fs.Parse([]string{"--image-pull-secrets= registry-credentials,,mirror ", "--preflight-interval=0"}); err != nil {
		t.Fatal(err)
	}
	o := resources.DefaultOptions()
	p.complete(&o)
	if want := []string{"registry-credentials", "mirror"}; !reflect.DeepEqual(o.ImagePullSecrets, want) {
		t.Errorf("image pull secrets %q, want %q", o.ImagePullSecrets, want)
	}
	if p.preflightInterval != 0 {
		t.Errorf("--preflight-interval=0 parsed as %s", p.preflightInterval)
	}
}
