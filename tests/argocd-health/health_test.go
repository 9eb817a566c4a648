// Package argocdhealth runs the Argo CD health checks in contrib/argocd/resource_customizations
// the way Argo CD does (util/lua): gopher-lua (a Lua 5.1 interpreter) with only the package,
// base and table libraries open, the object as the global `obj` (maps as tables, lists as
// 1-based tables, numbers as Lua numbers), and the returned table read as {status, message}.
// Every case of every health_test.yaml is checked, as in Argo CD's own TestLuaHealthScript.
package argocdhealth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const root = "../../contrib/argocd/resource_customizations"

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	InputPath    string       `json:"inputPath"`
	HealthStatus healthStatus `json:"healthStatus"`
}

type testFile struct {
	Tests []testCase `json:"tests"`
}

var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// toLua converts a decoded YAML/JSON value like Argo CD's decodeValue.
func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// runHealth executes script against obj as Argo CD's controller does (libraries closed).
func runHealth(script string, obj map[string]interface{}) (healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.fn), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return healthStatus{}, err
	}
	ret := l.Get(-1)
	table, ok := ret.(*lua.LTable)
	if !ok {
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	hs := healthStatus{}
	if s, ok := table.RawGetString("status").(lua.LString); ok {
		hs.Status = string(s)
	}
	if m, ok := table.RawGetString("message").(lua.LString); ok {
		hs.Message = string(m)
	}
	if !validStatuses[hs.Status] {
		return healthStatus{}, fmt.Errorf("invalid health status %q", hs.Status)
	}
	return hs, nil
}

func readYAML(path string, out interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(data, out)
}

func TestHealthChecks(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join(root, "*", "*", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scripts) == 0 {
		t.Fatalf("no health.lua under %s", root)
	}
	seen := map[string]bool{}
	for _, scriptPath := range scripts {
		dir := filepath.Dir(scriptPath)
		script, err := os.ReadFile(scriptPath)
		if err != nil {
			t.Fatal(err)
		}
		var tests testFile
		if err := readYAML(filepath.Join(dir, "health_test.yaml"), &tests); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(tests.Tests) == 0 {
			t.Fatalf("%s/health_test.yaml has no tests", dir)
		}
		for _, tc := range tests.Tests {
			tc := tc
			name, _ := filepath.Rel(root, filepath.Join(dir, tc.InputPath))
			t.Run(name, func(t *testing.T) {
				var obj map[string]interface{}
				if err := readYAML(filepath.Join(dir, tc.InputPath), &obj); err != nil {
					t.Fatal(err)
				}
				got, err := runHealth(string(script), obj)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.HealthStatus {
					t.Errorf("got %+v, want %+v", got, tc.HealthStatus)
				}
				seen[got.Status] = true
			})
		}
		// Every testdata file is covered by a case.
		files, _ := filepath.Glob(filepath.Join(dir, "testdata", "*.yaml"))
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			found := false
			for _, tc := range tests.Tests {
				if filepath.Clean(tc.InputPath) == rel {
					found = true
				}
			}
			if !found {
				t.Errorf("%s has no case in %s/health_test.yaml", rel, dir)
			}
		}
	}
	for _, want := range []string{"Healthy", "Progressing", "Degraded"} {
		if !seen[want] {
			t.Errorf("no test case ends %s", want)
		}
	}
}

// The script must not depend on libraries Argo CD does not open (string, math, os, io).
func TestNoClosedLibraries(t *testing.T) {
	_, err := runHealth(`return {status = string.format("%s", "Healthy")}`, map[string]interface{}{})
	if err == nil {
		t.Fatal("the string library should not be available, as in Argo CD")
	}
}
