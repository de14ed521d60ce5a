package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// manyAtOnce is how many containers figure 21 starts together.
const manyAtOnce = 50

// many is figure 21: 50 detached containers started at once, the time
// until every one of them runs, against runc with 50 bundles the same
// way (issue 26). Each round removes them all, off the clock.
func (s *b) many() error {
	x := s.bx
	bundles := make([]string, manyAtOnce)
	for i := range bundles {
		var err error
		// A bundle each: runc gives each container the cgroup its
		// config names.
		bundles[i], err = runcVariant(s.bundle, "many-"+strconv.Itoa(i), false, []string{"/bin/sleep", "600"})
		if err != nil {
			return err
		}
	}
	runcState := filepath.Join(runcDir, "many")
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	ours := func(i int) *exec.Cmd {
		return x.cmd(withIsolation("run", "-d", "--name", "many-"+strconv.Itoa(i), "busybox", "sleep", "600")...)()
	}
	theirs := func(i int) *exec.Cmd {
		// runc run -d hands its own stdio to the container (figure 7).
		cmd := exec.Command("runc", "--root", runcState, "run", "-d", "--bundle", bundles[i], "many-"+strconv.Itoa(i))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, devNull, devNull
		return cmd
	}
	removeOurs := func() {
		if ids, err := x.output("ps", "-aq"); err == nil && ids != "" {
			_, _ = x.output(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
	}
	removeTheirs := func() {
		for i := range manyAtOnce {
			_ = exec.Command("runc", "--root", runcState, "delete", "-f", "many-"+strconv.Itoa(i)).Run()
		}
	}
	defer removeOurs()
	defer removeTheirs()
	rounds := max(3, s.runs/4)
	var boxcraft, runc durations
	for range rounds {
		took, err := allAtOnce(ours)
		removeOurs()
		if err != nil {
			return fmt.Errorf("boxcraft: %w", err)
		}
		boxcraft.times = append(boxcraft.times, took)
		took, err = allAtOnce(theirs)
		removeTheirs()
		if err != nil {
			return fmt.Errorf("runc: %w", err)
		}
		runc.times = append(runc.times, took)
	}
	s.section("21. boxcraft: 50 containers started at once",
		fmt.Sprintf("%d `boxcraft %s` started together, timed until the last of them has returned (each returns once its `sleep` runs), against %d `runc run -d` started together, each of its own bundle (figure 7's, without a user namespace, a cgroup each), median of %d rounds taken in turn; every container is removed between rounds, off the clock. Both with figure 6's like-for-like isolation. On 2 CPUs the starts queue for the processors: the figure is how much work a start is, more than how long one waits.", manyAtOnce, strings.Join(withIsolation("run", "-d", "--name", "NAME", "busybox", "sleep", "600"), " "), manyAtOnce, rounds),
		ratioTable)
	s.row(fmt.Sprintf("%d boxcraft run -d at once", manyAtOnce), boxcraft, runc, fmt.Sprintf("%d runc run -d at once", manyAtOnce), 0)
	return nil
}

// allAtOnce starts manyAtOnce commands together and returns the time
// until the last has ended; the first failure is an error.
func allAtOnce(command func(i int) *exec.Cmd) (time.Duration, error) {
	cmds := make([]*exec.Cmd, manyAtOnce)
	for i := range cmds {
		cmds[i] = command(i)
	}
	errs := make([]error, manyAtOnce)
	var wg sync.WaitGroup
	start := time.Now()
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var output bytes.Buffer
			if cmd.Stdout == nil { // runc's have /dev/null (theirs)
				cmd.Stdout, cmd.Stderr = &output, &output
			}
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, output.String())
			}
		}()
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}
