package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the cluster's certificate authority and the files made from it. Every component
// authenticates with one admin client certificate (group system:masters): the cluster is a test
// fixture, and tenant rights are tested through impersonation (see world.NewTenant).
type pki struct {
	dir        string
	caCert     []byte // PEM
	adminCert  []byte // PEM
	adminKey   []byte // PEM
	caFile     string
	serveCert  string // kube-apiserver serving certificate, valid for the Service IP
	serveKey   string
	adminCertF string
	adminKeyF  string
	saKey      string // ServiceAccount token signing key (private)
	saPub      string

	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

func newPKI(dir string, apiIPs []net.IP, apiNames []string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	p, err := newCA(dir)
	if err != nil {
		return nil, err
	}
	serveCert, serveKey, err := p.issue(2, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth, apiIPs, apiNames)
	if err != nil {
		return nil, fmt.Errorf("pki: serving certificate: %w", err)
	}
	if p.adminCert, p.adminKey, err = p.issue(3, "admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, fmt.Errorf("pki: admin certificate: %w", err)
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return nil, fmt.Errorf("pki: service account key: %w", err)
	}

	p.caFile = filepath.Join(dir, "ca.crt")
	p.serveCert, p.serveKey = filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	p.adminCertF, p.adminKeyF = filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	p.saKey, p.saPub = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	for f, b := range map[string][]byte{
		p.caFile:     p.caCert,
		p.serveCert:  serveCert,
		p.serveKey:   serveKey,
		p.adminCertF: p.adminCert,
		p.adminKeyF:  p.adminKey,
		p.saKey:      saKey,
		p.saPub:      saPub,
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
	}
	return p, nil
}

// newCA makes the cluster's self-signed certificate authority, for a pki in dir.
func newCA(dir string) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "release-to-prod test cluster CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("pki: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("pki: CA: %w", err)
	}
	return &pki{dir: dir, caCert: pemBlock("CERTIFICATE", caDER), ca: ca, caKey: caKey}, nil
}

// newServiceAccountKey makes the key pair that signs ServiceAccount tokens, as PEM.
func newServiceAccountKey() (private, public []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), pemBlock("PUBLIC KEY", pub), nil
}

// issue makes a certificate signed by the cluster's CA.
func (p *pki) issue(serial int64, cn string, orgs []string, usage x509.ExtKeyUsage, ips []net.IP, names []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", kder), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeKubeconfig writes the admin kubeconfig every component uses to reach server.
func (p *pki) writeKubeconfig(path, server string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, server, p.caFile, p.adminCertF, p.adminKeyF)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
