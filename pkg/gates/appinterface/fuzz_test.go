package appinterface

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidate feeds arbitrary bytes as the SaaS file of a real checkout: no panic, every problem
// is located in a file, and a file without problems always has a production target at the SHA
// that is neither disabled nor deleted.
func FuzzValidate(f *testing.F) {
	for _, p := range []string{
		"testdata/app-interface/data/services/aa/cicd/saas.yml",
		"testdata/cases/yaml-syntax/data/services/aa/cicd/saas.yml",
		"testdata/cases/target-file/data/services/aa/cicd/saas.yml",
		"testdata/cases/bad-parameters/data/services/aa/cicd/saas.yml",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("resourceTemplates:\n- targets:\n  - $ref: /../x\n"))
	f.Add([]byte("x: &x {ref: y}\nresourceTemplates: [*x, *x]\n"))

	dir := tree(f, "target-file")
	file := "data/services/aa/cicd/fuzz.yml"
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := validate(t, dir, file, Options{})
		if err != nil {
			t.Fatalf("a readable file must give a report, got %v", err)
		}
		for _, p := range rep.Problems {
			if p.File == "" || p.Msg == "" {
				t.Fatalf("problem without a location or message: %+v", p)
			}
		}
		if len(rep.Problems) > 0 {
			return
		}
		if len(rep.Checked) == 0 {
			t.Fatalf("valid without a production target:\n%s", b)
		}
		for _, c := range rep.Checked {
			if c.Ref != testSHA {
				t.Fatalf("valid with production target %s at %q", c.Label(), c.Ref)
			}
		}
	})
}
