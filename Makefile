CONTROLLER_GEN ?= $(CURDIR)/bin/controller-gen

.PHONY: test update-golden manifests generate envtest-assets scale-operator

$(CONTROLLER_GEN):
	GOBIN=$(CURDIR)/bin go install sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0

manifests: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths=./... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

envtest-assets:
	hack/envtest-assets.sh

test:
	go test -p 1 ./...

update-golden:
	go test ./controllers/... -run Golden -update

scale-operator:
	MEMORYMCP_SCALE=500 go test -p 1 ./controllers -run ScaleDriver -count=1 -v
