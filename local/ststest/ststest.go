// Package ststest is a local stand-in for AWS STS's GetCallerIdentity, for
// tests: STS cannot run on a development machine. It verifies SigV4
// signatures as STS does, by signing the request it received again with
// the AWS SDK's own signer and the secret of the access key the request
// names (test credentials it was given), and answers with the identity of
// that key in STS's XML. It stands in for nothing else.
package ststest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Identity is a test principal: its credentials and what STS says of it.
type Identity struct {
	Credentials aws.Credentials
	Arn         string
	UserID      string
	Account     string
}

// Server answers GetCallerIdentity for its identities.
type Server struct {
	identities map[string]Identity
	// Calls counts the requests answered.
	Calls atomic.Int64
	// Now is the server's clock.
	Now func() time.Time
}

// New returns a Server that knows ids, by access key id.
func New(ids ...Identity) *Server {
	s := &Server{identities: map[string]Identity{}, Now: time.Now}
	for _, id := range ids {
		s.identities[id.Credentials.AccessKeyID] = id
	}
	return s
}

// MaxSkew is how far a signature's time may be from the server's, as STS
// allows.
const MaxSkew = 15 * time.Minute

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Calls.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "GetCallerIdentity" || form.Get("Version") != "2011-06-15" {
		fail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation")
		return
	}
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		fail(w, http.StatusForbidden, "IncompleteSignature", "Authorization header requires a SigV4 signature")
		return
	}
	id, ok := s.identities[m[1]]
	if !ok {
		fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != m[2] {
		fail(w, http.StatusForbidden, "IncompleteSignature", "X-Amz-Date is missing or does not match the credential scope")
		return
	}
	if d := s.Now().Sub(at); d > MaxSkew || d < -MaxSkew {
		fail(w, http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired")
		return
	}
	if id.Credentials.SessionToken != r.Header.Get("X-Amz-Security-Token") {
		fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	// The request as signed: its signed headers, nothing else.
	again, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+r.Host+"/", strings.NewReader(string(body)))
	again.Host = r.Host
	again.ContentLength = int64(len(body))
	for _, name := range strings.Split(m[4], ";") {
		if name == "host" || name == "content-length" {
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		again.Header[k] = r.Header.Values(k)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), id.Credentials, again, hex.EncodeToString(sum[:]), "sts", m[3], at); err != nil {
		fail(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	want := authRE.FindStringSubmatch(again.Header.Get("Authorization"))
	if want == nil || want[4] != m[4] || !hmac.Equal([]byte(want[5]), []byte(m[5])) {
		fail(w, http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided.")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>%s</Arn>
    <UserId>%s</UserId>
    <Account>%s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
`, escape(id.Arn), escape(id.UserID), escape(id.Account))
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// fail answers as STS does: an ErrorResponse document.
func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>0</RequestId></ErrorResponse>`,
		escape(code), escape(msg))
}

// Sign prepares a signed GetCallerIdentity for endpoint with creds, as a
// workload would with the AWS SDK, and returns it as the client_assertion
// of a token request: base64url of {"method","url","headers","body"}.
// audience goes in the signed X-Machine-Iam-Audience header.
func Sign(ctx context.Context, creds aws.Credentials, endpoint, region, audience string, at time.Time) (string, error) {
	const body = "Action=GetCallerIdentity&Version=2011-06-15"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("X-Machine-Iam-Audience", audience)
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "sts", region, at); err != nil {
		return "", err
	}
	return Encode(http.MethodPost, req.URL.String(), req.Header, body)
}
