// Package doccheck holds a test that keeps the repository's citations
// honest: every code comment, script, configuration example or note that
// cites a design note ("docs/architecture.md §4") must name a file under
// docs/ that exists and a section that file has, and nothing may cite the
// documents that live outside the repository (the team's own guides, issue
// texts), which a reader cannot follow. The package has no code of its own.
package doccheck
