// Package archtest has no code of its own, only a test that keeps the
// import rules of docs/ARCHITECTURE.md true.
//
// The test reads the tables in that document's "Import rules" section, asks
// `go list -deps` once for the module's import graph, and fails when
//
//   - a package imports, directly or through other packages, one that an
//     enforced rule forbids: the failure names the rule's line and the chain
//     of imports that brings the forbidden package in;
//   - a rule names a package, pattern or group that matches nothing, so a
//     rename has to carry the rules along;
//   - a package of the module has no row, so every new package gets a rule.
//
// Rules marked as targets are logged with how far the code is from them, and
// not enforced. The test skips when the go command is not on PATH.
package archtest
