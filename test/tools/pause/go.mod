module github.com/release-to-prod/release-to-prod/test/tools/pause

go 1.26.0
