package gate

import (
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/privatedesk/helpdesk-operator/internal/gate/config"
)

// session is what the session cookie holds, signed and encrypted.
type session struct {
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	// AuthTime and LastSeen are Unix seconds on the gate's clock.
	AuthTime int64 `json:"auth"`
	LastSeen int64 `json:"seen"`
}

// sessions reads and writes the session cookie and enforces the timeouts.
type sessions struct {
	name     string
	codec    *securecookie.SecureCookie
	idle     time.Duration
	absolute time.Duration
	// refreshAfter: last-seen is rewritten only when older than this, so most requests
	// leave the cookie alone; the idle limit then applies up to this much early.
	refreshAfter time.Duration
	now          func() time.Time
}

func newSessions(cfg *config.Config, keys config.CookieKeys, now func() time.Time) *sessions {
	codec := securecookie.New(keys.Hash, keys.Block)
	codec.SetSerializer(securecookie.JSONEncoder{})
	// securecookie's own timestamp check (real clock) backs up the absolute limit.
	codec.MaxAge(int((cfg.AbsoluteTimeout() + time.Minute).Seconds()))
	return &sessions{
		name:         cfg.Cookie.Name,
		codec:        codec,
		idle:         cfg.IdleTimeout(),
		absolute:     cfg.AbsoluteTimeout(),
		refreshAfter: cfg.IdleTimeout() / 10,
		now:          now,
	}
}

// load returns the request's valid session, or nil and why there is none ("" when the
// request simply has no cookie).
func (s *sessions) load(r *http.Request) (*session, string) {
	cookie, err := r.Cookie(s.name)
	if err != nil {
		return nil, ""
	}
	var sess session
	if err := s.codec.Decode(s.name, cookie.Value, &sess); err != nil {
		// Tampered, made with other keys, or past securecookie's max age.
		return nil, "undecodable cookie"
	}
	now := s.now()
	switch {
	case now.Sub(time.Unix(sess.AuthTime, 0)) >= s.absolute:
		return nil, "absolute timeout"
	case now.Sub(time.Unix(sess.LastSeen, 0)) >= s.idle:
		return nil, "idle timeout"
	case sess.Subject == "":
		return nil, "no subject"
	}
	return &sess, ""
}

// touch slides last-seen forward when it is old enough to matter.
func (s *sessions) touch(w http.ResponseWriter, sess *session) {
	now := s.now()
	if now.Sub(time.Unix(sess.LastSeen, 0)) < s.refreshAfter {
		return
	}
	sess.LastSeen = now.Unix()
	// A session that decoded re-encodes; should it not, the old cookie stays valid.
	_ = s.save(w, sess)
}

// save sets the cookie. The browser keeps it no longer than the session's absolute end.
func (s *sessions) save(w http.ResponseWriter, sess *session) error {
	value, err := s.codec.Encode(s.name, sess)
	if err != nil {
		return err
	}
	remaining := time.Unix(sess.AuthTime, 0).Add(s.absolute).Sub(s.now())
	http.SetCookie(w, hostCookie(s.name, value, int(remaining.Seconds()), http.SameSiteLaxMode))
	return nil
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, hostCookie(s.name, "", -1, http.SameSiteLaxMode))
}

// hostCookie is Secure, HttpOnly, for path / and without Domain, so it is host-only.
func hostCookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   true,
		HttpOnly: true,
		SameSite: sameSite,
	}
}
