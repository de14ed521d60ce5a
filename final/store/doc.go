// Package store keeps images below one root folder: their blobs by
// digest, their layers unpacked once per id mapping, their records by ID
// and their names. Prepare plans a container's root from an image's
// layers; it does not mount (final/mount does).
//
//	ROOT/blobs/sha256/HEX      each blob, as loaded, checked against its digest
//	ROOT/layers/SET/HEX        each layer unpacked, named by its diffID
//	ROOT/images/HEX.json       each image's record, named by its ID
//	ROOT/names.json            each name and the image it names
//	ROOT/tmp/PID-…             work in progress, renamed into place whole
//
// step05-layers (layers.go, inventory.go) taught the idea: a layer
// unpacked once into a folder named by its content, shared by every
// container and image that has it, in a set per id mapping ("as-is", or
// "u0-100000-65536" with the ids shifted as step04 did).
package store
