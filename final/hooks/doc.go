// Package hooks runs an OCI bundle's hooks (issue 23): programs the
// runtime spec has a runtime start at points of a container's life
// (createRuntime, createContainer, startContainer, poststart, poststop),
// each given the container's state as JSON on its stdin, each killed
// when it runs past its timeout. It is runc's libcontainer/configs
// Command.Run, for boxcraft-runc (the hooks of the runtime's namespaces)
// and for the container's init (those of the container's).
package hooks
