module github.com/tektoncd/hub

go 1.25.0

require github.com/spf13/cobra v1.10.2
