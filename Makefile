# Developer entry points. `make test` needs KUBECONFIG pointing at a running
# API server: use `make test-cp` (starts/stops a local test control plane), or
# run tests/control-plane/up.sh DIR yourself and export DIR/kubeconfig.
# .ci/run wraps `make test` with a shared control plane.

CARGO ?= cargo
CP_DIR ?= target/control-plane/local

.PHONY: test test-cp control-plane-up control-plane-down

# Integration tests start the ivschat-emulator and ivschat-operator binaries,
# so build all workspace binaries first.
test:
	$(CARGO) build --workspace --locked --bins
	$(CARGO) test --workspace --locked --no-fail-fast

# `make test` against a fresh local control plane, stopped afterwards.
test-cp:
	tests/control-plane/up.sh $(CP_DIR) >/dev/null
	KUBECONFIG=$(CURDIR)/$(CP_DIR)/kubeconfig $(MAKE) test; rc=$$?; \
	  tests/control-plane/down.sh $(CP_DIR); exit $$rc

control-plane-up:
	tests/control-plane/up.sh $(CP_DIR)

control-plane-down:
	tests/control-plane/down.sh $(CP_DIR)
