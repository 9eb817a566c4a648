// Command control-plane runs a real kube-apiserver (in-process) backed by an
// embedded etcd on 127.0.0.1, for the ivschat-operator integration tests.
//
// Optionally (-with-controllers) it also starts kube-controller-manager out of
// process (namespace lifecycle, garbage collection, service accounts), so that
// namespace deletion and ownerReference cascades behave like a real cluster.
//
// All state lives under -dir: pki/, etcd/, kubeconfig. When the API server
// answers /readyz, the kubeconfig is written and "READY <path>" is printed on
// stdout. The process stops on SIGTERM/SIGINT (and on stdin EOF when
// -exit-on-stdin-eof is set).
//
// See README.md; the scripts up.sh/down.sh wrap this binary.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // as upstream kube-apiserver main

	"go.etcd.io/etcd/server/v3/embed"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // as upstream kube-apiserver main
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as upstream kube-apiserver main
	_ "k8s.io/component-base/metrics/prometheus/version"  // as upstream kube-apiserver main
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// Controllers run by kube-controller-manager with -with-controllers.
const kcmControllers = "namespace-controller,garbage-collector-controller," +
	"serviceaccount-controller,serviceaccount-token-controller," +
	"root-ca-certificate-publisher-controller"

type pki struct {
	caFile, certFile, keyFile, saKeyFile, tokenFile string
	caPEM                                           []byte
	token                                           string
}

func main() {
	fs := flag.NewFlagSet("control-plane", flag.ExitOnError)
	dir := fs.String("dir", "", "state directory (required); created if missing")
	exitOnStdinEOF := fs.Bool("exit-on-stdin-eof", false, "shut down when stdin reaches EOF (for test fixtures that own the process)")
	withControllers := fs.Bool("with-controllers", false, "also run kube-controller-manager (namespace, GC, serviceaccount controllers)")
	kcmBin := fs.String("kcm-bin", "", "kube-controller-manager binary (default: next to this executable)")
	readyTimeout := fs.Duration("ready-timeout", 90*time.Second, "how long to wait for /readyz")
	_ = fs.Parse(os.Args[1:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "control-plane: -dir is required")
		os.Exit(2)
	}
	os.Exit(run(*dir, *exitOnStdinEOF, *withControllers, *kcmBin, *readyTimeout))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "control-plane: "+format+"\n", args...)
}

func run(dir string, exitOnStdinEOF, withControllers bool, kcmBin string, readyTimeout time.Duration) int {
	dir, err := filepath.Abs(dir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logf("%v", err)
		return 1
	}
	// The pid file lets down.sh stop exactly this process.
	pidFile := filepath.Join(dir, "pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	defer func() {
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
			_ = os.Remove(pidFile)
		}
	}()

	// Our own signal channel. The API server installs its own handler once it
	// starts (SetupSignalContext); until then SIGTERM is handled here.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	stdinEOF := make(chan struct{})
	if exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(stdinEOF)
		}()
	}

	p, err := makePKI(filepath.Join(dir, "pki"))
	if err != nil {
		logf("pki: %v", err)
		return 1
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		logf("etcd: %v", err)
		return 1
	}
	defer func() {
		etcd.Close()
		logf("etcd stopped")
	}()
	logf("etcd ready at %s", etcdURL)

	port, err := freePort()
	if err != nil {
		logf("port: %v", err)
		return 1
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--tls-cert-file=" + p.certFile,
		"--tls-private-key-file=" + p.keyFile,
		"--client-ca-file=" + p.caFile,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saKeyFile,
		"--service-account-signing-key-file=" + p.saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
		"--v=1",
	}
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	apiDone := make(chan int, 1)
	go func() { apiDone <- cli.Run(cmd) }()
	logf("kube-apiserver starting on %s", server)

	kubeconfig := filepath.Join(dir, "kubeconfig")
	readyErr := make(chan error, 1)
	readyCtx, cancelReady := context.WithTimeout(context.Background(), readyTimeout)
	defer cancelReady()
	go func() { readyErr <- waitReady(readyCtx, server, p) }()

	var kcm *exec.Cmd
	kcmDone := make(chan error, 1)
	stopKCM := func() {
		if kcm == nil || kcm.Process == nil {
			return
		}
		_ = kcm.Process.Signal(syscall.SIGTERM)
		select {
		case <-kcmDone:
		case <-time.After(10 * time.Second):
			_ = kcm.Process.Kill()
			<-kcmDone
		}
		_ = os.Remove(filepath.Join(dir, "kcm.pid"))
		logf("kube-controller-manager stopped")
		kcm = nil
	}
	defer stopKCM()

	// shutdown asks the API server to stop (unless it got the signal itself)
	// and waits for it.
	shutdown := func(requestIt bool) int {
		stopKCM()
		if requestIt {
			genericapiserver.RequestShutdown()
		}
		select {
		case code := <-apiDone:
			logf("kube-apiserver exited with %d", code)
			return code
		case <-time.After(60 * time.Second):
			logf("kube-apiserver did not stop within 60s")
			return 1
		}
	}

	ready := false
	for {
		select {
		case err := <-readyErr:
			if err != nil {
				logf("kube-apiserver not ready: %v", err)
				return shutdown(true)
			}
			if err := writeKubeconfig(kubeconfig, server, p); err != nil {
				logf("kubeconfig: %v", err)
				return shutdown(true)
			}
			if withControllers {
				kcm, err = startKCM(dir, kcmBin, kubeconfig, p, kcmDone)
				if err != nil {
					logf("kube-controller-manager: %v", err)
					return shutdown(true)
				}
			}
			ready = true
			logf("ready")
			fmt.Printf("READY %s\n", kubeconfig)
		case err := <-kcmDone:
			logf("kube-controller-manager exited unexpectedly: %v", err)
			kcm = nil
			return shutdown(true)
		case code := <-apiDone:
			logf("kube-apiserver exited with %d (ready=%v)", code, ready)
			if code == 0 {
				code = 1
			}
			return code
		case s := <-sigs:
			logf("received %v, shutting down", s)
			// The API server's own handler got the same signal. If it was not
			// installed yet, fall back to RequestShutdown after a grace period.
			stopKCM()
			select {
			case code := <-apiDone:
				logf("kube-apiserver exited with %d", code)
				return code
			case <-time.After(20 * time.Second):
				return shutdown(true)
			}
		case <-stdinEOF:
			logf("stdin closed, shutting down")
			return shutdown(true)
		}
	}
}

// freePort asks the kernel for a free loopback port. There is a small window
// before the port is bound again; collisions are retried by the callers.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, "", err
		}
		cp, err := freePort()
		if err != nil {
			return nil, "", err
		}
		pp, err := freePort()
		if err != nil {
			return nil, "", err
		}
		clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", cp)}
		peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pp)}
		cfg := embed.NewConfig()
		cfg.Name = "control-plane"
		cfg.Dir = dir
		cfg.UnsafeNoFsync = true
		cfg.LogLevel = "error"
		cfg.ListenClientUrls = []url.URL{clientURL}
		cfg.AdvertiseClientUrls = []url.URL{clientURL}
		cfg.ListenPeerUrls = []url.URL{peerURL}
		cfg.AdvertisePeerUrls = []url.URL{peerURL}
		cfg.ListenMetricsUrls = nil
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.WatchProgressNotifyInterval = 5 * time.Second
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
				logf("etcd: %v; retrying with other ports", err)
				continue
			}
			return nil, "", err
		}
		select {
		case <-e.Server.ReadyNotify():
			return e, clientURL.String(), nil
		case err := <-e.Err():
			e.Close()
			return nil, "", fmt.Errorf("etcd failed: %w", err)
		case <-time.After(60 * time.Second):
			e.Server.Stop()
			e.Close()
			return nil, "", errors.New("etcd not ready within 60s")
		}
	}
	return nil, "", lastErr
}

func makePKI(dir string) (*pki, error) {
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ivschat-test-control-plane-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.0.0.1")},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}

	p := &pki{
		caFile:    filepath.Join(dir, "ca.crt"),
		certFile:  filepath.Join(dir, "apiserver.crt"),
		keyFile:   filepath.Join(dir, "apiserver.key"),
		saKeyFile: filepath.Join(dir, "sa.key"),
		tokenFile: filepath.Join(dir, "tokens.csv"),
		caPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		token:     hex.EncodeToString(tok),
	}
	writeKey := func(path string, k *ecdsa.PrivateKey) error {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return err
		}
		return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	}
	if err := os.WriteFile(p.caFile, p.caPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644); err != nil {
		return nil, err
	}
	if err := writeKey(p.keyFile, srvKey); err != nil {
		return nil, err
	}
	if err := writeKey(p.saKeyFile, saKey); err != nil {
		return nil, err
	}
	// token,user,uid,"group1,group2"
	line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", p.token)
	if err := os.WriteFile(p.tokenFile, []byte(line), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func waitReady(ctx context.Context, server string, p *pki) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, lastLines(string(body), 5))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last response: %s", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "failed") || len(lines) < n {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " | ")
}

func writeKubeconfig(path, server string, p *pki) error {
	ca := base64.StdEncoding.EncodeToString(p.caPEM)
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: ivschat-test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: ivschat-test
  context:
    cluster: ivschat-test
    user: admin
current-context: ivschat-test
`, server, ca, p.token)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func startKCM(dir, bin, kubeconfig string, p *pki, done chan<- error) (*exec.Cmd, error) {
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(filepath.Dir(self), "kube-controller-manager")
	}
	logPath := filepath.Join(dir, "kube-controller-manager.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--controllers="+kcmControllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file="+p.saKeyFile,
		"--root-ca-file="+p.caFile,
		"--use-service-account-credentials=false",
		"--profiling=false",
		"--v=1",
	)
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// If we die without cleaning up, the kernel sends SIGTERM to the KCM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	_ = os.WriteFile(filepath.Join(dir, "kcm.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	go func() {
		err := cmd.Wait()
		logFile.Close()
		done <- err
	}()
	logf("kube-controller-manager started (pid %d, log %s)", cmd.Process.Pid, logPath)
	return cmd, nil
}
