package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Unix(1_700_000_000, 0)
)

func joinClaims() Claims {
	return Claims{Kind: KindJoin, Room: "r1", Game: "arena", Player: 7, Role: RolePlayer, Expiry: t0.Unix() + 60}
}

func mint(t *testing.T, c Claims) string {
	t.Helper()
	tok, err := Mint(secret, c)
	require.NoError(t, err)
	return tok
}

func TestRoundTrip(t *testing.T) {
	cases := map[string]Claims{
		"player join":  joinClaims(),
		"spectator":    {Kind: KindJoin, Room: "r1", Role: RoleSpectator, Expiry: t0.Unix() + 60},
		"admin any":    {Kind: KindJoin, Room: AnyRoom, Role: RoleAdmin, Expiry: t0.Unix() + 60},
		"game-scoped":  {Kind: KindJoin, Room: AnyRoom, Game: "arena", Player: 7, Role: RolePlayer, Expiry: t0.Unix() + 60},
		"resume":       {Kind: KindResume, Room: "r1", Game: "arena", Player: 9, Role: RolePlayer, Expiry: t0.Unix() + 20, Session: NewSession()},
		"unicode room": {Kind: KindJoin, Room: "salle-été/🙂", Player: 1<<32 - 1, Role: RolePlayer, Expiry: 1 << 62},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tok := mint(t, c)
			assert.NotContains(t, tok, "=")
			assert.Equal(t, tok, urlSafe(tok), "token must need no URL escaping")
			got, err := Verify(secret, tok, t0)
			require.NoError(t, err)
			assert.Equal(t, c, got)
		})
	}
}

// urlSafe keeps only characters that need no escaping in a query value.
func urlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return -1
	}, s)
}

func TestVerifyRejects(t *testing.T) {
	good := mint(t, joinClaims())
	payload, mac, _ := strings.Cut(good, ".")
	enc := base64.RawURLEncoding
	signed := func(js string) string { // a well-signed token over arbitrary claims JSON
		p := enc.EncodeToString([]byte(js))
		return p + "." + enc.EncodeToString(sign(secret, []byte(p)))
	}
	flip := func(s string, i int) string { // change one base64 character
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	other, err := Mint([]byte("another secret, also long enough"), joinClaims())
	require.NoError(t, err)
	js, err := enc.DecodeString(payload)
	require.NoError(t, err)
	admin := strings.Replace(string(js), `"o":"player"`, `"o":"admin"`, 1)
	require.NotEqual(t, string(js), admin)

	cases := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"empty", "", t0, ErrMalformed},
		{"one segment", payload, t0, ErrMalformed},
		{"empty mac", payload + ".", t0, ErrMalformed},
		{"empty payload", "." + mac, t0, ErrMalformed},
		{"three segments", good + ".x", t0, ErrMalformed},
		{"mac not base64", payload + ".!!!", t0, ErrMalformed},
		{"mac padded", payload + "." + base64.URLEncoding.EncodeToString(sign(secret, []byte(payload))), t0, ErrMalformed},
		{"mac short", payload + "." + mac[:20], t0, ErrMalformed},
		{"too long", strings.Repeat("a", maxTokenLen) + "." + mac, t0, ErrMalformed},
		{"tampered payload", flip(payload, 10) + "." + mac, t0, ErrBadSignature},
		{"tampered role", enc.EncodeToString([]byte(admin)) + "." + mac, t0, ErrBadSignature},
		{"tampered mac", payload + "." + flip(mac, 5), t0, ErrBadSignature},
		{"wrong secret", other, t0, ErrBadSignature},
		{"expired at expiry", good, t0.Add(60 * time.Second), ErrExpired},
		{"expired later", good, t0.Add(time.Hour), ErrExpired},
		{"signed garbage", signed("not json"), t0, ErrMalformed},
		{"signed unknown key", signed(`{"k":"join","r":"r1","p":7,"o":"player","e":1800000000,"x":1}`), t0, ErrMalformed},
		{"signed trailing", signed(`{"k":"join","r":"r1","p":7,"o":"player","e":1800000000}{}`), t0, ErrMalformed},
		{"signed bad role", signed(`{"k":"join","r":"r1","p":7,"o":"root","e":1800000000}`), t0, ErrMalformed},
		{"signed bad kind", signed(`{"k":"login","r":"r1","p":7,"o":"player","e":1800000000}`), t0, ErrMalformed},
		{"signed no expiry", signed(`{"k":"join","r":"r1","p":7,"o":"player"}`), t0, ErrMalformed},
		{"signed player id too big", signed(`{"k":"join","r":"r1","p":4294967296,"o":"player","e":1800000000}`), t0, ErrMalformed},
		{"signed player without id", signed(`{"k":"join","r":"r1","o":"player","e":1800000000}`), t0, ErrMalformed},
		{"signed star for player", signed(`{"k":"join","r":"*","p":7,"o":"player","e":1800000000}`), t0, ErrMalformed},
		{"signed resume without session", signed(`{"k":"resume","r":"r1","p":7,"o":"player","e":1800000000}`), t0, ErrMalformed},
		{"signed json null", signed(`null`), t0, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Verify(secret, tc.token, tc.now)
			require.ErrorIs(t, err, tc.want)
			assert.Zero(t, c)
		})
	}
}

func TestExpiryBoundary(t *testing.T) {
	tok := mint(t, joinClaims()) // expiry t0+60
	_, err := Verify(secret, tok, t0.Add(59*time.Second+999*time.Millisecond))
	require.NoError(t, err, "valid until the expiry second")
	_, err = Verify(secret, tok, t0.Add(60*time.Second))
	require.ErrorIs(t, err, ErrExpired)
}

func TestKindsDoNotMix(t *testing.T) {
	// A resume token is distinguishable from a join token for the same seat.
	join := joinClaims()
	resume := join
	resume.Kind, resume.Session = KindResume, NewSession()
	cj, err := Verify(secret, mint(t, join), t0)
	require.NoError(t, err)
	cr, err := Verify(secret, mint(t, resume), t0)
	require.NoError(t, err)
	assert.Equal(t, KindJoin, cj.Kind)
	assert.Equal(t, KindResume, cr.Kind)
	assert.NotEqual(t, NewSession(), NewSession())
}

func TestMintRefuses(t *testing.T) {
	_, err := Mint([]byte("short"), joinClaims())
	require.ErrorIs(t, err, ErrWeakSecret)
	_, err = Verify([]byte("short"), "a.b", t0)
	require.ErrorIs(t, err, ErrWeakSecret)
	bad := []func(*Claims){
		func(c *Claims) { c.Kind = "" },
		func(c *Claims) { c.Role = "root" },
		func(c *Claims) { c.Room = "" },
		func(c *Claims) { c.Room, c.Game = AnyRoom, "" }, // room * without a game: admin only
		func(c *Claims) { c.Room, c.Kind, c.Session = AnyRoom, KindResume, NewSession() },
		func(c *Claims) { c.Player = 0 },
		func(c *Claims) { c.Expiry = 0 },
		func(c *Claims) { c.Kind = KindResume },
		func(c *Claims) { c.Room = strings.Repeat("r", maxTokenLen) },
	}
	for i, mod := range bad {
		c := joinClaims()
		mod(&c)
		_, err := Mint(secret, c)
		assert.Error(t, err, "case %d", i)
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvSecret {
				return v
			}
			return ""
		}
	}
	long := "a-secret-of-more-than-16-bytes"
	cases := []struct {
		name string
		file string
		env  func(string) string
		want string
		err  error
	}{
		{"file trimmed", write("ok", "  "+long+"\n"), env(""), long, nil},
		{"file beats env", write("ok2", long), env("env-secret-also-long-enough"), long, nil},
		{"env trimmed", "", env(long + "\n"), long, nil},
		{"env too short", "", env("short\n"), "", ErrWeakSecret},
		{"file too short", write("short", "0123456789abcde\n"), env(long), "", ErrWeakSecret},
		{"file empty", write("empty", "\n"), env(long), "", ErrWeakSecret},
		{"nothing", "", env(""), "", ErrNoSecret},
		{"nil env", "", nil, "", ErrNoSecret},
		{"file too big", write("big", strings.Repeat("x", maxSecretFile+1)), nil, "", nil},
		{"file missing", filepath.Join(dir, "missing"), env(long), "", os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadSecret(tc.file, tc.env)
			if tc.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(got))
				return
			}
			require.Error(t, err)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			}
			assert.Nil(t, got)
		})
	}
}

func TestRandomSecret(t *testing.T) {
	a, b := RandomSecret(), RandomSecret()
	assert.Len(t, a, 32)
	assert.NotEqual(t, a, b)
	tok, err := Mint(a, joinClaims())
	require.NoError(t, err)
	_, err = Verify(b, tok, t0)
	assert.ErrorIs(t, err, ErrBadSignature)
}

func FuzzVerify(f *testing.F) {
	f.Add(mintSeed(f, joinClaims()))
	f.Add(mintSeed(f, Claims{Kind: KindResume, Room: "r", Player: 1, Role: RolePlayer, Expiry: 1, Session: "s"}))
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(secret, token, t0)
		if err != nil {
			if c != (Claims{}) {
				t.Fatalf("claims %+v returned with error %v", c, err)
			}
			return
		}
		if c.Valid() != nil || t0.Unix() >= c.Expiry {
			t.Fatalf("accepted invalid claims %+v", c)
		}
		// Whatever verifies is something Mint would sign.
		if _, err := Mint(secret, c); err != nil {
			t.Fatalf("verified claims do not mint: %v", err)
		}
	})
}

func mintSeed(f *testing.F, c Claims) string {
	tok, err := Mint(secret, c)
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// The wire format is what other minters (a game backend in another language) reproduce:
// base64url(JSON with these keys, in this order) "." base64url(HMAC-SHA256 of the first segment).
func TestFormat(t *testing.T) {
	tok := mint(t, joinClaims())
	payload, mac, ok := strings.Cut(tok, ".")
	require.True(t, ok)
	js, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	assert.Equal(t, `{"k":"join","r":"r1","g":"arena","p":7,"o":"player","e":1700000060}`, string(js))
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(payload))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(h.Sum(nil)), mac)
}
