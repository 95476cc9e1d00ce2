package step

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/release-to-prod/release-to-prod/pkg/step/commit"
	"github.com/release-to-prod/release-to-prod/pkg/step/failure"
)

// A config field's `check:"…"` tag names the rule its value must follow. The check-input step,
// whose config is generated from every step's settings, applies them all at once before any
// gate of the Pipeline talks to a service, so a bad param is reported once, by its name,
// before anything is attempted. (Each step still checks its own settings, in its own words.)
//
//	sha      a full 40-character commit SHA (see package commit)
//	name     a Kubernetes object name (DNS-1123 label); empty is allowed unless required
//	bool     a boolean param (see ParseBool); empty means the default
//	url      an absolute http or https URL; empty is allowed unless required
//	duration a Go duration (90s, 10m, 1h); empty means the default
//	int      a whole number; empty means the default
//	count    a whole number above zero (a limit); empty means the default
//	period   a Go duration above zero (a timeout, an interval); empty means the default
//	key      a Secret or ConfigMap key
//	relpath  a relative path that stays inside its folder (no "..", not absolute)
var checks = map[string]func(string) error{
	"sha": func(v string) error {
		_, err := commit.ParseSHA(v)
		return err
	},
	"name": unlessEmpty(func(v string) error {
		if len(v) > 63 || !dns1123Label.MatchString(v) {
			return fmt.Errorf("%s is not a valid Kubernetes name: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", quote(v))
		}
		return nil
	}),
	"bool": func(v string) error {
		_, err := ParseBool("value", v, false)
		return err
	},
	"url": unlessEmpty(func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s is not an absolute http(s) URL", quote(v))
		}
		return nil
	}),
	"duration": unlessEmpty(number("a duration", durationExample, time.ParseDuration, false)),
	"int":      unlessEmpty(number("a whole number", "", strconv.Atoi, false)),
	"count":    unlessEmpty(number("a whole number", "", strconv.Atoi, true)),
	"period":   unlessEmpty(number("a duration", durationExample, time.ParseDuration, true)),
	"key": func(v string) error {
		if len(v) > 253 || !secretKey.MatchString(v) || v == "." || v == ".." {
			return fmt.Errorf("%s is not a valid Secret key: letters, digits, '-', '_' and '.'", quote(v))
		}
		return nil
	},
	"relpath": unlessEmpty(func(v string) error {
		if path.IsAbs(v) || strings.HasPrefix(path.Clean(v), "..") || strings.ContainsAny(v, "\x00\n") {
			return fmt.Errorf("%s must be a path relative to its folder, without \"..\"", quote(v))
		}
		return nil
	}),
}

const durationExample = " such as 90s, 10m or 1h"

// unlessEmpty applies check to a value that is set: for these rules an empty value is allowed
// (unless the setting is required) or means the default.
func unlessEmpty(check func(string) error) func(string) error {
	return func(v string) error {
		if v == "" {
			return nil
		}
		return check(v)
	}
}

// number checks a value parse reads as what (a duration, a whole number): above zero when
// positive (a timeout, a limit), else not below zero; example, if any, ends the message.
func number[T int | time.Duration](what, example string, parse func(string) (T, error), positive bool) func(string) error {
	return func(v string) error {
		x, err := parse(strings.TrimSpace(v))
		if err == nil && (x > 0 || x == 0 && !positive) {
			return nil
		}
		above := ""
		if positive {
			above = " above zero"
		}
		return fmt.Errorf("%s is not %s%s%s", quote(v), what, above, example)
	}
}

// The rules of Kubernetes names and keys (apimachinery's validation), written here so that the
// steps that do not talk to Kubernetes link none of it.
var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	secretKey    = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// CheckRules lists the rule names a `check` tag may use (the generator and the contract tests
// read it).
func CheckRules() []string {
	out := make([]string, 0, len(checks))
	for k := range checks {
		out = append(out, k)
	}
	return out
}

// CheckValue applies the rule named rule to one value, for a step that must check a setting
// it receives in another form than a param (notify gets the Secret key as the end of a path).
func CheckValue(rule, v string) error {
	check, ok := checks[rule]
	if !ok {
		return fmt.Errorf("unknown check %q", rule)
	}
	return check(v)
}

// Check applies the `check` rules of cfg (a pointer to a loaded config struct) and returns one
// invalid-input failure naming every setting that breaks its rule, by its param name.
func Check(cfg any) error {
	fields, err := EnvFields(cfg)
	if err != nil {
		return err
	}
	values := map[string]string{}
	collectValues(reflect.ValueOf(cfg).Elem(), values)
	var problems []string
	for _, f := range fields {
		if f.Check == "" {
			continue // typed settings (durations, numbers) were checked when they were decoded
		}
		rule, ok := checks[f.Check]
		if !ok {
			return fmt.Errorf("setting %s: unknown check %q", f.Env, f.Check)
		}
		if IsPlaceholder(values[f.Env]) {
			// A template's value left as shipped (pac/release-to-prod-push.yaml): some would
			// pass their rule (a relative path), none is what the user means.
			// Short: every placeholder of a template is named at once, within the result's budget.
			problems = append(problems, fmt.Sprintf("%s (%s) is a placeholder left as shipped: set it", f.Param(), f.Env))
			continue
		}
		if err := rule(values[f.Env]); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): %s", f.Param(), f.Env, strings.TrimPrefix(err.Error(), commit.ErrInvalidSHA.Error()+": ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return failure.New(failure.InvalidInput, nil, "%s", strings.Join(problems, "; "))
}

// IsPlaceholder says whether a param value is a template's placeholder, written between angle
// brackets (`<your Konflux Component>`): no valid value of any rule looks like that.
func IsPlaceholder(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) > 2 && strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">")
}

// Positive rejects a setting that must be above zero (a timeout, an interval, a limit) as
// invalid input. Its default lives in the struct tag alone: a zero or negative value given
// explicitly is a mistake to report, not one to replace silently.
func Positive[T int | time.Duration](env string, v T) error {
	if v <= 0 {
		return failure.New(failure.InvalidInput, nil, "%s %v must be above zero", env, v)
	}
	return nil
}

// collectValues reads the string form of every env-tagged field of v (a struct).
func collectValues(v reflect.Value, out map[string]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		env := strings.TrimSpace(strings.Split(sf.Tag.Get("env"), ",")[0])
		if env == "" {
			if sf.Type.Kind() == reflect.Struct {
				collectValues(v.Field(i), out)
			}
			continue
		}
		out[env] = fmt.Sprint(v.Field(i).Interface())
	}
}

// quote shows a user value safely: Go-quoted (control characters escaped) and truncated.
func quote(s string) string {
	if r := []rune(s); len(r) > 64 {
		return fmt.Sprintf("%q… (%d characters)", string(r[:64]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
