package main

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// list is a flag that may be given many times (-e A -e B), each value
// kept whole, commas and all: pflag's StringArray without its CSV round
// trip. pflag writes a CSV line of a StringArray's value when the flag
// is defined and again, to parse it back, each time it is read, each
// with a new 4 KiB buffer; boxcraft run defines some twenty of them, so
// that was some 40 fresh pages of memory a run, each a page fault
// (issue 26).
type list []string

func (l *list) Set(value string) error {
	*l = append(*l, value)
	return nil
}

// Type is the name help shows for the flag's value: Docker's, "list".
// Not pflag's "stringArray", whose GetStringArray would then take this
// value for its own and parse its String as CSV.
func (l *list) Type() string { return "list" }

// String is "" when the flag was not given, so that help shows no
// default.
func (l *list) String() string { return strings.Join(*l, ",") }

// addList defines the repeatable flag name, with shorthand ("" for none).
func addList(flags *pflag.FlagSet, name, shorthand, usage string) {
	flags.VarP(new(list), name, shorthand, usage)
}

// getList is a copy of what the flag name was given, in order; nil when
// it was not given or not defined.
func getList(flags *pflag.FlagSet, name string) []string {
	if f := flags.Lookup(name); f != nil {
		if l, ok := f.Value.(*list); ok {
			return slices.Clone(*l)
		}
	}
	return nil
}
