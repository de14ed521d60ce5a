package build

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/user"
)

// resolveChown sets who owns a COPY's or ADD's files, from
// --chown=USER[:GROUP]. A name is looked up where Docker looks it up: in
// the /etc/passwd and /etc/group of the image being built (never the
// host's, nor --from's), so its root is mounted only then.
func (bd *build) resolveChown(ctx context.Context, st *stage, spec *copySpec) error {
	var err error
	switch _, _, numbers := numericChown(spec.chown); {
	case spec.chown == "":
		return nil
	case numbers:
		spec.uid, spec.gid, err = chownIDs("", spec.chown)
		return err
	case st.image == "":
		return fmt.Errorf("--chown=%s: a name needs the image's /etc/passwd, and FROM scratch has none", spec.chown)
	}
	return bd.withRoot(ctx, st.image, func(root string) error {
		spec.uid, spec.gid, err = chownIDs(root, spec.chown)
		return err
	})
}

// chownIDs reads --chown=USER[:GROUP] with the image's root at root.
// Numbers are taken as they are, and a lone UID is the GID too, as
// Docker (BuildKit) takes it. Names go to package user, the one that
// resolves run -u: a lone user name brings its primary group, and a name
// the files lack is refused.
func chownIDs(root, chown string) (int, int, error) {
	if uid, gid, ok := numericChown(chown); ok {
		return uid, gid, nil
	}
	u, err := user.Lookup(root, chown)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: %w", chown, err)
	}
	return int(u.UID), int(u.GID), nil
}

// numericChown reads UID[:GID] when both are numbers.
func numericChown(s string) (uid, gid int, ok bool) {
	u, g, hasGroup := strings.Cut(s, ":")
	uid, err := strconv.Atoi(u)
	gid = uid
	if err == nil && hasGroup {
		gid, err = strconv.Atoi(g)
	}
	return uid, gid, err == nil && uid >= 0 && gid >= 0
}
