// Package rankjoin writes the root span of each engine step of a tensor- or
// pipeline-parallel run once the parts of several ranks' trace files are
// known: the converter hands it each step's cross-rank part
// (converter.RankStep, through converter.Options.Steps) and the Joiner
// builds the root with every known rank's figures (converter.StepRoot).
//
// Two ways to write: Hold keeps every root until Flush (convert, which has
// all files of one call: one root per step, with every rank), WriteThrough
// writes a step's root with each file that adds a part, from all parts
// known so far (the daemon: a file's export never waits for, or depends
// on, another file's; the file that completes the step writes the root
// with every rank).
//
// It never reads files, never builds a rank's spans and never decides which
// windows match (the converter's ids do); it only groups parts by trace id,
// refuses to fold a conflicting part in silently (bridge.step.window_conflict)
// and bounds what it keeps.
package rankjoin
