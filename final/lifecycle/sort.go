package lifecycle

import "sort"

func sortNewestFirst(list []Container) {
	sort.SliceStable(list, func(i, j int) bool {
		return list[i].Record.Created.After(list[j].Record.Created)
	})
}
