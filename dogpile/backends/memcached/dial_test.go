package memcached

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// startCustomMemcached starts a memcached with extra flags (ASCII
// authentication, TLS), which internal/testserver has no way to pass, and
// returns its address once ready reports true for it. The process is
// killed when t ends.
func startCustomMemcached(t *testing.T, extra []string, ready func(addr string) bool) string {
	t.Helper()
	path, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("memcached is not installed (Debian package memcached)")
		}
		t.Skip("memcached is not installed (Debian package memcached)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	args := append([]string{"-l", "127.0.0.1", "-p", port, "-U", "0"}, extra...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	cmd := exec.Command(path, args...)
	var out syncBuilder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); !ready(addr); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("memcached %q did not start on %s: %s", extra, addr, out.String())
		}
	}
	return addr
}

// syncBuilder is a strings.Builder safe for the process's two outputs.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAuthMemcached starts a memcached that requires ASCII authentication
// (-Y) as alice:s3cret.
func startAuthMemcached(t *testing.T) string {
	t.Helper()
	authFile := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(authFile, []byte("alice:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startCustomMemcached(t, []string{"-Y", authFile}, func(addr string) bool {
		line, err := probeUnauthenticated(addr)
		return err == nil && strings.HasPrefix(line, "CLIENT_ERROR unauthenticated")
	})
}

func probeUnauthenticated(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprint(conn, "get x\r\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// TestAuthentication: username and password reach a memcached that
// requires ASCII authentication.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	addr := startAuthMemcached(t)
	ctx := context.Background()
	key := keyPrefix(t) + "k"

	b := open(t, driver.Arguments{"url": addr, "username": "alice", "password": "s3cret", "distributed_lock": true})
	if err := b.SetBytes(ctx, key, []byte("v")); err != nil {
		t.Fatalf("SetBytes with credentials: %v", err)
	}
	if got, ok, err := b.GetBytes(ctx, key); string(got) != "v" || !ok || err != nil {
		t.Errorf("GetBytes with credentials = %q, %v, %v", got, ok, err)
	}
	mu := b.Mutex(key)
	if ok, err := mu.Acquire(ctx, false); !ok || err != nil {
		t.Errorf("Acquire with credentials = %v, %v", ok, err)
	} else if err := mu.Release(ctx); err != nil {
		t.Errorf("Release with credentials: %v", err)
	}

	wrong := open(t, driver.Arguments{"url": addr, "username": "alice", "password": "wrong"})
	if _, _, err := wrong.GetBytes(ctx, key); err == nil || !strings.Contains(err.Error(), `authenticating as "alice"`) {
		t.Errorf("GetBytes with a wrong password: %v; want an authentication error", err)
	}
	none := open(t, driver.Arguments{"url": addr})
	if _, _, err := none.GetBytes(ctx, key); err == nil || !strings.HasPrefix(err.Error(), "get "+strconv.Quote(key)+": ") {
		t.Errorf("GetBytes without credentials: %v; want an error", err)
	}
}

// TestTLS: tls_context connects with TLS to a memcached started with -Z.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeSelfSigned(t, certFile, keyFile)
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	addr := startCustomMemcached(t, []string{"-Z", "-o", "ssl_chain_cert=" + certFile + ",ssl_key=" + keyFile},
		func(addr string) bool {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, clientTLS)
			if err != nil {
				return false
			}
			conn.Close()
			return true
		})
	ctx := context.Background()
	key := keyPrefix(t) + "k"
	b := open(t, driver.Arguments{"url": addr, "tls_context": clientTLS, "socket_keepalive": true})
	if err := b.SetBytes(ctx, key, []byte("over tls")); err != nil {
		t.Fatalf("SetBytes over TLS: %v", err)
	}
	if got, ok, err := b.GetBytes(ctx, key); string(got) != "over tls" || !ok || err != nil {
		t.Errorf("GetBytes over TLS = %q, %v, %v", got, ok, err)
	}
	plain := open(t, driver.Arguments{"url": addr, "socket_timeout": 0.3})
	if _, _, err := plain.GetBytes(ctx, key); err == nil {
		t.Error("GetBytes without TLS from a TLS server succeeded")
	}
	// A timeout long enough for the handshake to reach the certificate
	// check on a loaded machine.
	untrusted := open(t, driver.Arguments{"url": addr, "tls_context": &tls.Config{MinVersion: tls.VersionTLS12}, "socket_timeout": 5})
	if _, _, err := untrusted.GetBytes(ctx, key); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GetBytes with an untrusted certificate: %v; want a certificate error", err)
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key, and returns a pool trusting it.
func writeSelfSigned(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "memcached test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
