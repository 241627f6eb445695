package gate

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// The identity headers the gate sets on protected paths after checking a session.
const (
	headerUser   = "X-Forwarded-User"
	headerEmail  = "X-Forwarded-Email"
	headerGroups = "X-Forwarded-Groups"
)

// identityHeaderPrefixes: a client header whose name, upper-cased and with underscores read
// as dashes (Rack and CGI merge the two), starts with one of these never reaches the
// upstream. It covers the headers of common auth proxies (oauth2-proxy, Authelia,
// Apache's REMOTE_USER) that an app might trust.
var identityHeaderPrefixes = []string{
	"X-FORWARDED-USER", "X-FORWARDED-EMAIL", "X-FORWARDED-GROUP", "X-FORWARDED-PREFERRED-USERNAME",
	"X-FORWARDED-ACCESS-TOKEN", "X-AUTH-REQUEST-", "X-REMOTE-", "REMOTE-USER", "REMOTE-GROUP",
	"REMOTE-EMAIL", "REMOTE-NAME", "X-USER", "X-EMAIL", "X-GROUPS",
}

func isIdentityHeader(name string) bool {
	normal := strings.ReplaceAll(strings.ToUpper(name), "_", "-")
	for _, prefix := range identityHeaderPrefixes {
		if strings.HasPrefix(normal, prefix) {
			return true
		}
	}
	return false
}

// newProxy forwards to the upstream without the client's identity headers or the gate's
// cookies, adding the gate's identity headers when the request carries a checked session.
func newProxy(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
	upstream, err := url.Parse(cfg.UpstreamURL)
	if err != nil {
		return nil, err
	}
	external, err := url.Parse(cfg.ExternalURL)
	if err != nil {
		return nil, err
	}
	ownCookie := cfg.Cookie.Name
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// Keep the client address chain the ingress sent, as a Director proxy would.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			// The browser talked to the external URL over https, whatever reached the gate.
			pr.Out.Header.Set("X-Forwarded-Host", external.Host)
			pr.Out.Header.Set("X-Forwarded-Proto", external.Scheme)
			pr.Out.Host = external.Host
			for name := range pr.Out.Header {
				if isIdentityHeader(name) {
					pr.Out.Header.Del(name)
				}
			}
			dropCookies(pr.Out.Header, ownCookie)
			if s := identityFrom(pr.In.Context()); s != nil {
				pr.Out.Header.Set(headerUser, s.Subject)
				if s.Email != "" {
					pr.Out.Header.Set(headerEmail, s.Email)
				}
				if len(s.Groups) > 0 {
					pr.Out.Header.Set(headerGroups, strings.Join(s.Groups, ","))
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			log.Error("upstream unreachable", "error", err.Error())
			renderPage(w, http.StatusBadGateway, pageError, pageData{Message: "The helpdesk is not reachable right now."})
		},
	}, nil
}

// dropCookies removes the gate's cookies (the session and its -login flow cookie) from the
// Cookie header, leaving the app's own cookies byte for byte as the browser sent them.
func dropCookies(h http.Header, ownName string) {
	var kept []string
	for _, line := range h.Values("Cookie") {
		for _, part := range strings.Split(line, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name == ownName || strings.HasPrefix(name, ownName+"-") {
				continue
			}
			if strings.TrimSpace(part) != "" {
				kept = append(kept, strings.TrimSpace(part))
			}
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}
