package step

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// Load fills cfg from flags (which win) and the environment. Every field with an `env:"NAME"`
// tag is also a flag --name (lower case, dashes); a `desc:"…"` tag is its help text.
func Load(ctx context.Context, name string, args []string, cfg any) error {
	fields, err := EnvFields(cfg)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	set := map[string]*string{}
	for _, f := range fields {
		v := new(string)
		set[f.Env] = v
		fs.StringVar(v, f.Flag(), "", f.Desc)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: settings are flags (--name=value) or environment variables", fs.Arg(0))
	}
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		for env, v := range set {
			if flagName(env) == f.Name {
				given[env] = *v
			}
		}
	})
	return envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   cfg,
		Lookuper: envconfig.MultiLookuper(envconfig.MapLookuper(given), envconfig.OsLookuper()),
	})
}

// Field is one setting of a step's config struct.
type Field struct {
	Env      string
	Desc     string
	Required bool
	Default  string
	// Check is the rule the value follows (`check:"…"` tag, see Check).
	Check string
	// ParamName is the Tekton param that carries the setting (`param:"…"` tag); empty: the
	// lower-case env name; "-": none (the setting is not a param: KUBECONFIG, internal limits).
	ParamName string
	// Common is true for the settings every step has (Common): the runtime's, not a param.
	Common bool
	// Type is the field's Go type.
	Type reflect.Type
}

// Rule is the check the field's value must pass: its `check` tag, or what its type implies.
func (f Field) Rule() string {
	switch {
	case f.Check != "":
		return f.Check
	case f.Type == reflect.TypeOf(time.Duration(0)):
		return "duration"
	case f.Type != nil && f.Type.Kind() == reflect.Int:
		return "int"
	}
	return ""
}

// Flag is the flag name of the field.
func (f Field) Flag() string { return flagName(f.Env) }

// Param is the name of the Tekton param that carries the setting, "" when none does.
func (f Field) Param() string {
	switch {
	case f.Common || f.ParamName == "-":
		return ""
	case f.ParamName != "":
		return f.ParamName
	}
	return strings.ToLower(f.Env)
}

func flagName(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }

// EnvFields lists the env settings cfg (a pointer to a struct) reads, embedded structs included,
// sorted by name. The Tekton contract test compares them with the Task's env.
func EnvFields(cfg any) ([]Field, error) {
	t := reflect.TypeOf(cfg)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config must be a pointer to a struct, got %T", cfg)
	}
	var out []Field
	collect(t.Elem(), &out, false)
	sort.Slice(out, func(i, j int) bool { return out[i].Env < out[j].Env })
	return out, nil
}

func collect(t reflect.Type, out *[]Field, common bool) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("env")
		if tag == "" {
			if sf.Type.Kind() == reflect.Struct {
				collect(sf.Type, out, common || sf.Type == reflect.TypeOf(Common{}))
			}
			continue
		}
		parts := strings.Split(tag, ",")
		f := Field{Env: strings.TrimSpace(parts[0]), Desc: sf.Tag.Get("desc"), Check: sf.Tag.Get("check"),
			ParamName: sf.Tag.Get("param"), Common: common, Type: sf.Type}
		for _, p := range parts[1:] {
			p = strings.TrimSpace(p)
			switch {
			case p == "required":
				f.Required = true
			case strings.HasPrefix(p, "default="):
				f.Default = strings.TrimPrefix(p, "default=")
			}
		}
		*out = append(*out, f)
	}
}

// Usage prints the flags and environment variables of cfg.
func Usage(w io.Writer, name string, cfg any) {
	fields, err := EnvFields(cfg)
	if err != nil {
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintf(w, "Usage: %s [--flag=value ...]\nEvery flag can also be set as the environment variable shown.\n\n", name)
	for _, f := range fields {
		extra := ""
		if f.Required {
			extra = " (required)"
		} else if f.Default != "" {
			extra = fmt.Sprintf(" (default %q)", f.Default)
		}
		fmt.Fprintf(w, "  --%-22s %-22s %s%s\n", f.Flag(), "$"+f.Env, f.Desc, extra)
	}
}

// ParseBool is the one reader of every step's true/false setting (skip, dry_run, wait,
// fail_on_critical, …), which Tekton passes as a string param. It accepts exactly "true" and
// "false", in any case and with surrounding spaces; empty means def. Anything else — yes, no, 1,
// 0, on, off included — is invalid input naming the setting: Tekton's own booleans (a
// workspace's bound, a when expression) are true and false, and a word one step took and another
// refused would let dry_run=yes release in one place and fail in another. name is the setting as
// the user wrote it (a param or env name).
func ParseBool(name, v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, failure.New(failure.InvalidInput, nil, "%s %.40q is not true or false", name, v)
}

// DefaultOf is the default in the tag of setting env of cfg (a pointer to a config struct), so
// that code needing a setting's default reads the one declaration; "" when there is none.
func DefaultOf(cfg any, env string) string {
	f, _ := fieldOf(cfg, env) // no such setting: no default, which the caller's test shows
	return f.Default
}

// fieldOf is the setting env of cfg (a pointer to a config struct).
func fieldOf(cfg any, env string) (Field, error) {
	fields, err := EnvFields(cfg)
	if err != nil {
		return Field{}, err
	}
	for _, f := range fields {
		if f.Env == env {
			return f, nil
		}
	}
	return Field{}, fmt.Errorf("config %T has no setting %s", cfg, env)
}
