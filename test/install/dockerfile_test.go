package install

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The images cannot be built here (no Docker engine); these tests check
// what decides whether they would build and how they run.

type stage struct {
	name, base string
	user       string
	copies     []string // build-context sources of COPY without --from
	builds     []string // packages of `go build` in RUN
	env        map[string]string
	// static holds the packages of builds that run with CGO_ENABLED=0,
	// set by ENV in the stage or on the RUN line.
	static map[string]bool
}

var goBuildPackage = regexp.MustCompile(`go build .*?(\./cmd/[A-Za-z0-9_./-]+)`)

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	data, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			s := stage{base: fields[1], env: map[string]string{}, static: map[string]bool{}}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				s.name = fields[3]
			}
			stages = append(stages, s)
		case "USER":
			stages[len(stages)-1].user = fields[1]
		case "COPY":
			args := fields[1:]
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--from") }) {
				continue
			}
			// The last argument is the destination.
			stages[len(stages)-1].copies = append(stages[len(stages)-1].copies, args[:len(args)-1]...)
		case "ENV":
			for _, kv := range fields[1:] {
				if k, v, ok := strings.Cut(kv, "="); ok {
					stages[len(stages)-1].env[k] = v
				}
			}
		case "RUN":
			s := &stages[len(stages)-1]
			cgoOff := s.env["CGO_ENABLED"] == "0" || slices.Contains(fields, "CGO_ENABLED=0")
			for _, m := range goBuildPackage.FindAllStringSubmatch(sc.Text(), -1) {
				s.builds = append(s.builds, m[1])
				if cgoOff {
					s.static[m[1]] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

func TestDockerfileCopySourcesExist(t *testing.T) {
	for _, s := range parseDockerfile(t) {
		for _, src := range s.copies {
			if _, err := os.Stat(repoPath(src)); err != nil {
				t.Errorf("stage %q copies %s, which does not exist in this tree "+
					"(cmd/ and controllers/ come with the manager and server): %v", s.name, src, err)
			}
			if ignoredByDockerignore(t, src) {
				t.Errorf("stage %q copies %s, which .dockerignore leaves out of the context", s.name, src)
			}
		}
	}
}

// ignoredByDockerignore reads the allow-list form used here: "*" then
// "!path" lines.
func ignoredByDockerignore(t *testing.T, src string) bool {
	t.Helper()
	data, err := os.ReadFile(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if !slices.Contains(lines, "*") {
		return false
	}
	want := "!" + strings.TrimSuffix(src, "/")
	return !slices.ContainsFunc(lines, func(l string) bool { return strings.TrimSuffix(l, "/") == want })
}

func TestMakefileTargetsAreStages(t *testing.T) {
	data, err := os.ReadFile(repoPath("Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`--target[ =](\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(targets) == 0 {
		t.Fatal("the Makefile builds no --target")
	}
	stages := parseDockerfile(t)
	for _, m := range targets {
		if !slices.ContainsFunc(stages, func(s stage) bool { return s.name == m[1] }) {
			t.Errorf("the Makefile builds --target %s, which the Dockerfile lacks", m[1])
		}
	}
}

func TestImagesRunAsNonRoot(t *testing.T) {
	for _, s := range parseDockerfile(t) {
		if s.name != "manager" && s.name != "mcp-server" {
			continue
		}
		if !strings.HasPrefix(s.base, "gcr.io/distroless/static") || !strings.HasSuffix(s.base, ":nonroot") {
			t.Errorf("stage %s is based on %s, want gcr.io/distroless/static:nonroot", s.name, s.base)
		}
		if s.user != "65532:65532" {
			t.Errorf("stage %s runs as %q, want 65532:65532", s.name, s.user)
		}
	}
}

// Every binary the Dockerfile builds must build statically from the
// folders the Dockerfile copies, and nothing else of the module.
func TestDockerBinariesBuildStatic(t *testing.T) {
	var builds []string
	var copied []string
	for _, s := range parseDockerfile(t) {
		builds = append(builds, s.builds...)
		copied = append(copied, s.copies...)
		// The build below sets CGO_ENABLED=0 itself; the Dockerfile must too.
		for _, pkg := range s.builds {
			if !s.static[pkg] {
				t.Errorf("the Dockerfile builds %s without CGO_ENABLED=0 (ENV in its stage or on the RUN line)", pkg)
			}
		}
	}
	if len(builds) == 0 {
		t.Fatal("the Dockerfile runs no `go build ./cmd/...`")
	}
	out := t.TempDir()
	for _, pkg := range builds {
		t.Run(pkg, func(t *testing.T) {
			if _, err := os.Stat(repoPath(pkg)); err != nil {
				t.Fatalf("the Dockerfile builds %s, which does not exist in this tree: %v", pkg, err)
			}
			checkCopiedDeps(t, pkg, copied)
			bin := filepath.Join(out, filepath.Base(pkg))
			if _, err := runEnv([]string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-o", bin, pkg); err != nil {
				t.Fatal(err)
			}
			info, err := run("go", "version", "-m", bin)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(info, "CGO_ENABLED=0") {
				t.Errorf("%s is not built with CGO_ENABLED=0:\n%s", pkg, info)
			}
		})
	}
}

// checkCopiedDeps fails when pkg imports a package of this module from a
// folder the Dockerfile does not copy into the build stage.
func checkCopiedDeps(t *testing.T, pkg string, copied []string) {
	t.Helper()
	module, err := run("go", "list", "-m")
	if err != nil {
		t.Fatal(err)
	}
	module = strings.TrimSpace(module)
	deps, err := run("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(deps) {
		rel, ok := strings.CutPrefix(dep, module+"/")
		if !ok {
			continue
		}
		top := strings.SplitN(rel, "/", 2)[0] + "/"
		if !slices.Contains(copied, top) {
			t.Errorf("%s imports %s, but the Dockerfile does not copy %s", pkg, dep, top)
		}
	}
}
