package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/release-to-prod/release-to-prod/pkg/actions/history"
	"github.com/release-to-prod/release-to-prod/pkg/clients/konflux"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge"
	"github.com/release-to-prod/release-to-prod/pkg/step/knowledge/store"
)

// failuresUsage is the help of `tkn-local failures`.
const failuresUsage = `Usage:
  tkn-local failures list  [-n namespace] [--kubeconfig file] [--history-configmap name] [--configmap name]
  tkn-local failures teach <fingerprint> --cause "…" --fix "…" [--pattern regexp] [--replace] [--by who] [--id name]
                           [-n namespace] [--kubeconfig file] [--history-configmap name] [--configmap name]

list shows the failures the runs recorded in the release history without a known cause, counted
by fingerprint. teach writes a learned fix for one of them into the team knowledge ConfigMap
(created when missing), with your own credentials; the next run that meets the failure shows
its cause and fix. With --pattern the entry matches the failure's step and an RE2 regexp on its
message instead of the fingerprint (for a failure whose message varies more than the
fingerprint allows); a pattern over the complexity budget is refused.
`

// failuresCmd runs `tkn-local failures …`. It exits 0 on success, 1 when the cluster refused or
// failed, 2 on a usage error.
func failuresCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, failuresUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("tkn-local failures "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, failuresUsage) }
	var o failuresOptions
	o.clusterFlags(fs, "ConfigMap holding the release history")
	fs.StringVar(&o.configMap, "configmap", knowledge.DefaultConfigMap, "ConfigMap holding the team knowledge store")
	fs.StringVar(&o.fix.Cause, "cause", "", "teach: the likely cause, one line")
	fs.StringVar(&o.fix.Fix, "fix", "", "teach: the fix, one line")
	fs.BoolVar(&o.fix.Replace, "replace", false, "teach: show this cause and fix instead of the built-in catalog's (default: in addition)")
	fs.StringVar(&o.fix.By, "by", os.Getenv("USER"), "teach: who taught it")
	fs.StringVar(&o.fix.ID, "id", "", "teach: a name for the entry (letters, digits, . _ -)")
	fs.StringVar(&o.fix.Match.Pattern, "pattern", "", "teach: match the step's failures whose message matches this RE2 regexp, instead of the fingerprint")
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintln(stderr, "✗", err)
		return code
	}
	switch {
	case sub == "list" && len(positional) == 0:
	case sub == "teach" && len(positional) == 1:
		if err := o.checkTeach(positional[0]); err != nil {
			return fail(2, err)
		}
	default:
		fs.Usage()
		return 2
	}
	kc, err := o.client()
	if err != nil {
		return fail(2, err)
	}
	if sub == "list" {
		err = listFailures(ctx, kc, o, stdout)
	} else {
		err = teach(ctx, kc, o, strings.ToLower(positional[0]), stdout)
	}
	if err != nil {
		return fail(1, err)
	}
	return 0
}

// checkTeach checks what teach was given, before the store is read: the fingerprint, a cause
// and a fix, and a pattern the store would take.
func (o failuresOptions) checkTeach(fingerprint string) error {
	if !knowledge.IsFingerprint(fingerprint) {
		return fmt.Errorf("%q is not a fingerprint (%d hex digits, as tkn-local failures list shows them)", fingerprint, knowledge.FingerprintLength)
	}
	if strings.TrimSpace(o.fix.Cause) == "" || strings.TrimSpace(o.fix.Fix) == "" {
		return errors.New("teach needs --cause and --fix")
	}
	if p := o.fix.Match.Pattern; p != "" {
		if len(p) > knowledge.MaxPattern {
			return fmt.Errorf("--pattern is %d bytes long, over the limit of %d", len(p), knowledge.MaxPattern)
		}
		if _, err := knowledge.PatternCost(p); err != nil {
			return fmt.Errorf("--pattern %q: %w", knowledge.Text(p, knowledge.MaxPattern), err)
		}
	}
	return nil
}

type failuresOptions struct {
	namespace, kubeconfig, history, configMap string
	fix                                       knowledge.LearnedFix
}

// clusterFlags registers the flags that say which cluster, namespace and history to read.
func (o *failuresOptions) clusterFlags(fs *flag.FlagSet, historyUsage string) {
	fs.StringVar(&o.namespace, "n", "", "tenant namespace (default: the kubeconfig context's)")
	fs.StringVar(&o.namespace, "namespace", "", "same as -n")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&o.history, "history-configmap", history.DefaultConfigMap, historyUsage)
}

// client connects with the user's own credentials, in the namespace given or the context's.
func (o *failuresOptions) client() (*konflux.Client, error) {
	if o.namespace == "" {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if o.kubeconfig != "" {
			rules.ExplicitPath = o.kubeconfig
		}
		ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
		if err != nil {
			return nil, fmt.Errorf("no -n given and no namespace in the kubeconfig: %w", err)
		}
		o.namespace = ns
	}
	return konflux.NewClient(o.kubeconfig, o.namespace)
}

func listFailures(ctx context.Context, kc *konflux.Client, o failuresOptions, out io.Writer) error {
	entries, err := history.Read(ctx, kc, o.history)
	if err != nil {
		return err
	}
	counts := history.UnmatchedFailures(entries)
	if len(counts) == 0 {
		fmt.Fprintf(out, "no unknown failures in the release history (ConfigMap %s in %s, %d runs)\n", o.history, o.namespace, len(entries))
		return nil
	}
	k, _, err := store.Read(ctx, kc.Dynamic, o.namespace, o.configMap)
	if err != nil {
		fmt.Fprintf(out, "! cannot read the team knowledge store (%v): the TAUGHT column is unknown\n", err)
		k = nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FINGERPRINT\tCOUNT\tLAST SEEN\tSTEP\tFAILURE\tTAUGHT\tMESSAGE")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.Fingerprint, c.Count, orDash(c.Last), c.Step, orDash(c.ID), taught(k, c.Unmatched), knowledge.Text(c.Message, 100))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the list: %w", err)
	}
	fmt.Fprintf(out, "\nteach one: tkn-local failures teach <fingerprint> -n %s --cause \"…\" --fix \"…\"\n", o.namespace)
	return nil
}

func taught(k *knowledge.Store, u knowledge.Unmatched) string {
	if k == nil {
		return "?"
	}
	for _, l := range k.LearnedFixes {
		if strings.EqualFold(l.Match.Fingerprint, u.Fingerprint) {
			return "yes"
		}
	}
	if _, ok := k.Lookup(knowledge.Failure{Step: u.Step, ID: u.ID, Status: u.Status, Message: u.Message}); ok {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func teach(ctx context.Context, kc *konflux.Client, o failuresOptions, fp string, out io.Writer) error {
	fix := o.fix
	fix.Cause, fix.Fix = strings.TrimSpace(fix.Cause), strings.TrimSpace(fix.Fix)
	fix.Match = knowledge.Match{Fingerprint: fp}
	if o.fix.Match.Pattern != "" {
		// The step (from the history) and the pattern: the fingerprint would narrow it to one
		// message again.
		fix.Match = knowledge.Match{Pattern: o.fix.Match.Pattern}
	}
	fix.Added = time.Now().UTC().Format(time.RFC3339)
	entries, err := history.Read(ctx, kc, o.history)
	if err != nil {
		return err
	}
	found := false
	for _, c := range history.UnmatchedFailures(entries) {
		if c.Fingerprint == fp {
			fix.Match.Step, fix.Example, found = c.Step, c.Message, true
			break
		}
	}
	if !found {
		fmt.Fprintf(out, "! fingerprint %s is not in the release history (ConfigMap %s in %s): teaching it by fingerprint alone\n", fp, o.history, o.namespace)
	}
	replaced, err := store.Teach(ctx, kc.Dynamic, o.namespace, o.configMap, fix)
	if err != nil {
		return err
	}
	verb := "taught"
	if replaced {
		verb = "taught again (the earlier entry for it replaced)"
	}
	fmt.Fprintf(out, "✓ %s %s in ConfigMap %s in %s; the next run that meets it shows:\n  likely cause: %s\n  fix: %s\n",
		verb, fp, o.configMap, o.namespace, knowledge.Text(fix.Cause, knowledge.MaxText), knowledge.Text(fix.Fix, knowledge.MaxText))
	return nil
}
