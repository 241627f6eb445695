package gate

import (
	"html/template"
	"net/http"
)

// pageData fills the gate's own pages.
type pageData struct {
	Message string
	Link    string
	// Login form.
	Action   string
	CSRF     string
	Username string
	// Post binding: the crewjam/saml form, and the nonce its script runs under.
	Form  template.HTML
	Nonce string
}

const pageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
	`<title>{{block "title" .}}Helpdesk sign-in{{end}}</title>` +
	`<style>body{font-family:sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}label,input,button{display:block;margin:.4rem 0;width:100%}</style></head><body>`

func page(name, body string) *template.Template {
	return template.Must(template.New(name).Parse(pageHead + body + `</body></html>`))
}

var (
	pageRefused      = page("refused", `<h1>Access denied</h1><p>{{.Message}}</p>`)
	pageError        = page("error", `<h1>Sign-in failed</h1><p>{{.Message}}</p><p><a href="/">Back to the helpdesk</a></p>`)
	pageSignInNeeded = page("signin", `<h1>Please sign in</h1><p>Your session has ended.</p><p><a href="{{.Link}}">Sign in</a></p>`)
	pageSignedOut    = page("signedout", `<h1>Signed out</h1><p><a href="{{.Link}}">Sign in again</a></p>`)
	pageLogin        = page("login", `<h1>Helpdesk sign-in</h1>{{with .Message}}<p role="alert">{{.}}</p>{{end}}`+
		`<form method="post" action="{{.Action}}"><input type="hidden" name="csrf" value="{{.CSRF}}">`+
		`<label>Username <input name="username" autocomplete="username" value="{{.Username}}" required autofocus></label>`+
		`<label>Password <input name="password" type="password" autocomplete="current-password" required></label>`+
		`<button type="submit">Sign in</button></form>`)
	pageSAMLPost = page("samlpost", `{{.Form}}`)
)

// renderPage writes one of the gate's pages. They are never cached and never framed, and
// they run no script except the SAML post form's, which runs under its nonce.
func renderPage(w http.ResponseWriter, status int, t *template.Template, data pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
	if data.Nonce != "" {
		// The SAML post form goes to the identity provider.
		csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" + data.Nonce + "'; form-action https:; frame-ancestors 'none'"
	}
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

// htmlOf marks markup crewjam/saml generated (with its values escaped) as safe to embed.
func htmlOf(b []byte) template.HTML {
	return template.HTML(b) // produced by html/template inside crewjam/saml
}
