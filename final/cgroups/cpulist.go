package cgroups

import (
	"fmt"
	"strconv"
	"strings"
)

// maxCPUNumber bounds a CPU or memory node's number: no machine has one
// numbered higher.
const maxCPUNumber = 1 << 16

// ParseCPUList reads the kernel's list format, as cpuset.cpus and
// /sys/devices/system/cpu/online write it: "0-2,4" is 0, 1, 2 and 4.
func ParseCPUList(text string) ([]int, error) {
	var list []int
	for _, part := range strings.Split(text, ",") {
		first, last, isRange := strings.Cut(part, "-")
		lo, err1 := strconv.Atoi(first)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = strconv.Atoi(last)
		}
		if err1 != nil || err2 != nil || lo < 0 || hi < lo || hi >= maxCPUNumber {
			return nil, fmt.Errorf("%q is not a list such as 0-2,4", text)
		}
		for n := lo; n <= hi; n++ {
			list = append(list, n)
		}
	}
	return list, nil
}

// FormatCPUList writes a sorted list back in the kernel's format, runs
// of numbers as ranges: 0, 1, 2 and 4 are "0-2,4".
func FormatCPUList(list []int) string {
	var parts []string
	for i := 0; i < len(list); {
		j := i
		for j+1 < len(list) && list[j+1] == list[j]+1 {
			j++
		}
		part := strconv.Itoa(list[i])
		if j > i {
			part += "-" + strconv.Itoa(list[j])
		}
		parts = append(parts, part)
		i = j + 1
	}
	return strings.Join(parts, ",")
}
