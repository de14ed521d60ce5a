// Package dockerfile reads a Dockerfile into its instructions: boxcraft's
// own small parser (issue 22), not BuildKit's. It joins lines continued
// with a backslash, drops comments, and splits each instruction into its
// name, its --flags and its arguments, telling the JSON (exec) form from
// the shell form. What the instructions mean, and ${VAR} substitution,
// are final/build's.
package dockerfile
