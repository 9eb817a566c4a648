# Developer entry points (README "Quick start"):
#   make demo   the operator doing its job locally (hack/demo.sh); make demo-down stops it
#   make test   the whole suite. With KUBECONFIG pointing at a local (loopback) API server,
#               as .ci/run's shared control plane is, it runs against that server; otherwise
#               it starts a throwaway test control plane (test-cp) and stops it afterwards.

CARGO ?= cargo
CP_DIR ?= target/control-plane/local

.PHONY: test test-suite test-cp control-plane-up control-plane-down demo demo-down demo-ci test-argocd-health

# A KUBECONFIG of another cluster (say, a shared one exported in your shell) is not used unless
# USE_KUBECONFIG=1: the tests install CRDs and create namespaces.
test: test-argocd-health
	@if [ -n "$$KUBECONFIG" ] && { [ "$(USE_KUBECONFIG)" = 1 ] || \
	    grep -Eq '^ *server: *https?://(127\.0\.0\.1|localhost|\[::1\])[:/]' "$${KUBECONFIG%%:*}" 2>/dev/null; }; then \
	  $(MAKE) --no-print-directory test-suite; \
	else \
	  if [ -n "$$KUBECONFIG" ]; then echo "make test: KUBECONFIG is not a local API server; using a throwaway control plane (USE_KUBECONFIG=1 uses it)"; fi; \
	  $(MAKE) --no-print-directory test-cp; \
	fi

# Integration tests start the ivschat-emulator and ivschat-operator binaries,
# so build all workspace binaries first.
test-suite:
	$(CARGO) build --workspace --locked --bins
	$(CARGO) test --workspace --locked --no-fail-fast

# `make test` against a fresh local control plane, stopped afterwards.
test-cp:
	tests/control-plane/up.sh $(CP_DIR) >/dev/null
	KUBECONFIG=$(CURDIR)/$(CP_DIR)/kubeconfig $(MAKE) --no-print-directory test-suite; rc=$$?; \
	  tests/control-plane/down.sh $(CP_DIR); exit $$rc

control-plane-up:
	tests/control-plane/up.sh $(CP_DIR)

control-plane-down:
	tests/control-plane/down.sh $(CP_DIR)

# The operator, a local control plane and the IVS Chat emulator, with examples/ applied and
# Ready; left running (state and logs in .demo/). DEMO_NONINTERACTIVE=1 (or demo-ci) also
# edits a room, checks drift correction, and stops everything; .ci/run runs it.
demo:
	hack/demo.sh up

demo-down:
	hack/demo.sh down

demo-ci:
	DEMO_NONINTERACTIVE=1 hack/demo.sh up

# The Argo CD health checks (contrib/argocd) run the way Argo CD runs them: gopher-lua, with
# only the base, package and table libraries, on real objects (tests/argocd-health).
GO ?= go
test-argocd-health:
	cd tests/argocd-health && $(GO) test ./...

# Benchmark (issue 10): release build, local control plane, emulator with quotas on and
# 50 ms latency; prints a table, writes target/bench/results.json. See docs/performance.md.
.PHONY: bench bench-quick
bench:
	bench/run.sh

# N = 50 version for CI: fails on any ThrottlingException or a room that is not Ready.
bench-quick:
	bench/run.sh --quick
