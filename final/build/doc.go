// Package build makes an image of a Dockerfile (boxcraft build, issue
// 22), one layer per RUN, COPY and ADD, as the course note says an image
// is made: "每一步操作都会生成一个层", each step adds a layer. A RUN runs
// in a container on the layers so far and its upper layer becomes the
// new layer: step05's commit, done by the Runner the command line gives
// (package runtime, as boxcraft run and commit do). A COPY writes the
// files as a layer's tar straight into the store. ENV, CMD, USER … change
// the image's config only. Each step's image is cached under a key of
// its parent's key, the instruction and (COPY, ADD) the files' contents,
// and a rebuild reuses it: CACHED.
package build
