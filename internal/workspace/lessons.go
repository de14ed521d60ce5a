package main

// A lesson is what make workspace-stepNN leaves for the learner to write
// in step NN's program, in the order the lesson suggests writing it. Each
// step's own list is in the file of its name (step02.go, …).
type lesson []todo

// lessons are the lessons, by step name. Every stepNN-* folder of the
// repository has one: `go run ./internal/workspace -check` (make lint)
// fails for a step without one.
var lessons = map[string]lesson{
	"step01": step01,
	"step02": step02,
	"step03": step03,
	"step04": step04,
	"step05": step05,
}

// A todo is one piece of the lesson: code that the workspace takes out of
// the step's program, and puts a TODO comment and a stub in place of.
type todo struct {
	// Func names where the piece is: a function ("name"), a method
	// ("(*T).name" or "(T).name"), or a package variable ("var name").
	// The tool fails, naming it, when the step has no such thing: so a
	// lesson cannot go on naming code that was renamed or moved.
	Func string
	// Line, when given, is how a statement (or an element of a composite
	// literal) in Func begins, without its indentation: the piece is that
	// statement alone, with every line it spans. Without it, the piece is
	// Func's whole body, or the variable's value.
	Line string
	// What is the piece in a few words, for the list the tool prints.
	What string
	// Hint says what to write and why, in the TODO comment.
	Hint string
	// Man lists the man pages to read, as "2 clone".
	Man []string
	// Tests are the tests that judge the piece, as go test -run names them.
	Tests string
	// Stub stands in for the piece: Go statements (a value, for a
	// variable) that keep the program building and running as if the
	// lesson's code were absent, so that the tests fail on what the
	// program does rather than on a panic. Empty, a Line is taken out with
	// nothing in its place.
	Stub string
}
