package gate

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"
)

// samlUser is a user of the test identity provider and the AuthnContextClassRef its
// sign-ins are asserted with.
type samlUser struct {
	name     string
	groups   []string
	classRef string
}

// samlProvider is crewjam/saml's identity provider (samlidp) on an https test server, with
// a session provider that sets each user's AuthnContextClassRef; signing, the login form
// and the response are the library's.
type samlProvider struct {
	*httptest.Server
	idp *samlidp.Server
}

func startSAMLProvider(t *testing.T, users ...samlUser) *samlProvider {
	p := &samlProvider{}
	handler := &swappable{h: http.NotFoundHandler()}
	p.Server = httptest.NewTLSServer(handler)
	t.Cleanup(p.Close)
	key, cert := selfSignedCert(t, "test saml idp")
	base, _ := url.Parse(p.URL)
	idp, err := samlidp.New(samlidp.Options{URL: *base, Key: key, Signer: key, Certificate: cert,
		Store: &samlidp.MemoryStore{}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte("pw-"+u.name), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := idp.Store.Put("/users/"+u.name, samlidp.User{Name: u.name, HashedPassword: hash, Groups: u.groups, Email: u.name + "@example.com"}); err != nil {
			t.Fatal(err)
		}
		refs[u.name] = u.classRef
	}
	idp.IDP.SessionProvider = classRefSessions{inner: idp, refs: refs}
	p.idp = idp
	handler.h = idp
	return p
}

// register gives the provider the gate's service provider metadata, as an administrator
// would.
func (p *samlProvider) register(t *testing.T, b *browser, gateURL string) {
	t.Helper()
	metadata := b.get(gateURL + pathSAMLMetadata)
	expectStatus(t, metadata, 200)
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/services/gate", strings.NewReader(metadata.body))
	expectStatus(t, b.do(req), 204)
}

type classRefSessions struct {
	inner saml.SessionProvider
	refs  map[string]string
}

func (c classRefSessions) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s := c.inner.GetSession(w, r, req)
	if s != nil {
		s.AuthnContextClassRef = c.refs[s.UserName]
	}
	return s
}

// formOf reads the first form of an HTML page: its action and its named inputs' values.
func formOf(t *testing.T, r *response) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	values := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			switch {
			case n.Data == "form" && action == "":
				action = attrs["action"]
			case n.Data == "input" && attrs["name"] != "":
				values.Set(attrs["name"], attrs["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if action == "" {
		t.Fatalf("no form on %s: %.300s", r.Request.URL, r.body)
	}
	target, err := r.Request.URL.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	return target.String(), values
}

var certSerial struct {
	sync.Mutex
	n int64
}

// selfSignedCert makes an RSA key and a certificate for it, valid for 127.0.0.1.
func selfSignedCert(t *testing.T, name string) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	certSerial.Lock()
	certSerial.n++
	serial := certSerial.n
	certSerial.Unlock()
	template := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// pemFiles writes key and cert as PEM files and returns their paths.
func pemFiles(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate) (keyFile, certFile string) {
	dir := t.TempDir()
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	return keyFile, certFile
}
